import { strict as assert } from "node:assert";
import {
  inbound,
  outbound,
  type SubscriptionState,
  type SubscriptionType,
} from "./subscriptions.ts";

/** Appendix A's state names, as SubscriptionState values (without pre-approval). */
const STATES: Record<string, SubscriptionState> = {
  "None": s(false, false, false, false),
  "None + Pending Out": s(false, false, true, false),
  "None + Pending In": s(false, false, false, true),
  "None + Pending Out/In": s(false, false, true, true),
  "To": s(true, false, false, false),
  "To + Pending In": s(true, false, false, true),
  "From": s(false, true, false, false),
  "From + Pending Out": s(false, true, true, false),
  "Both": s(true, true, false, false),
};

function s(to: boolean, from: boolean, pendingOut: boolean, pendingIn: boolean): SubscriptionState {
  return { to, from, pendingOut, pendingIn, approved: false };
}

function name(state: SubscriptionState): string {
  const found = Object.entries(STATES).find(([, v]) =>
    v.to === state.to && v.from === state.from && v.pendingOut === state.pendingOut &&
    v.pendingIn === state.pendingIn
  );
  if (!found) throw new Error(`not an Appendix A state: ${JSON.stringify(state)}`);
  return found[0];
}

// [existing state, route/deliver?, new state], in the order of the RFC's tables.
type Table = [string, boolean, string][];

const OUTBOUND: Record<SubscriptionType, Table> = {
  subscribe: [ // A.2.1
    ["None", true, "None + Pending Out"],
    ["None + Pending Out", true, "None + Pending Out"],
    ["None + Pending In", true, "None + Pending Out/In"],
    ["None + Pending Out/In", true, "None + Pending Out/In"],
    ["To", true, "To"],
    ["To + Pending In", true, "To + Pending In"],
    ["From", true, "From + Pending Out"],
    ["From + Pending Out", true, "From + Pending Out"],
    ["Both", true, "Both"],
  ],
  unsubscribe: [ // A.2.2
    ["None", true, "None"],
    ["None + Pending Out", true, "None"],
    ["None + Pending In", true, "None + Pending In"],
    ["None + Pending Out/In", true, "None + Pending In"],
    ["To", true, "None"],
    ["To + Pending In", true, "None + Pending In"],
    ["From", true, "From"],
    ["From + Pending Out", true, "From"],
    ["Both", true, "From"],
  ],
  subscribed: [ // A.2.3
    ["None", false, "None"],
    ["None + Pending Out", false, "None + Pending Out"],
    ["None + Pending In", true, "From"],
    ["None + Pending Out/In", true, "From + Pending Out"],
    ["To", false, "To"],
    ["To + Pending In", true, "Both"],
    ["From", false, "From"],
    ["From + Pending Out", false, "From + Pending Out"],
    ["Both", false, "Both"],
  ],
  unsubscribed: [ // A.2.4
    ["None", false, "None"],
    ["None + Pending Out", false, "None + Pending Out"],
    ["None + Pending In", true, "None"],
    ["None + Pending Out/In", true, "None + Pending Out"],
    ["To", false, "To"],
    ["To + Pending In", true, "To"],
    ["From", true, "None"],
    ["From + Pending Out", true, "None + Pending Out"],
    ["Both", true, "To"],
  ],
};

const INBOUND: Record<SubscriptionType, Table> = {
  subscribe: [ // A.3.1
    ["None", true, "None + Pending In"],
    ["None + Pending Out", true, "None + Pending Out/In"],
    ["None + Pending In", false, "None + Pending In"],
    ["None + Pending Out/In", false, "None + Pending Out/In"],
    ["To", true, "To + Pending In"],
    ["To + Pending In", false, "To + Pending In"],
    ["From", false, "From"],
    ["From + Pending Out", false, "From + Pending Out"],
    ["Both", false, "Both"],
  ],
  unsubscribe: [ // A.3.2
    ["None", false, "None"],
    ["None + Pending Out", false, "None + Pending Out"],
    ["None + Pending In", true, "None"],
    ["None + Pending Out/In", true, "None + Pending Out"],
    ["To", false, "To"],
    ["To + Pending In", true, "To"],
    ["From", true, "None"],
    ["From + Pending Out", true, "None + Pending Out"],
    ["Both", true, "To"],
  ],
  subscribed: [ // A.3.3
    ["None", false, "None"],
    ["None + Pending Out", true, "To"],
    ["None + Pending In", false, "None + Pending In"],
    ["None + Pending Out/In", true, "To + Pending In"],
    ["To", false, "To"],
    ["To + Pending In", false, "To + Pending In"],
    ["From", false, "From"],
    ["From + Pending Out", true, "Both"],
    ["Both", false, "Both"],
  ],
  unsubscribed: [ // A.3.4
    ["None", false, "None"],
    ["None + Pending Out", true, "None"],
    ["None + Pending In", false, "None + Pending In"],
    ["None + Pending Out/In", true, "None + Pending In"],
    ["To", true, "None"],
    ["To + Pending In", true, "None + Pending In"],
    ["From", false, "From"],
    ["From + Pending Out", true, "From"],
    ["Both", true, "From"],
  ],
};

for (const [type, table] of Object.entries(OUTBOUND) as [SubscriptionType, Table][]) {
  Deno.test(`outbound() follows RFC 6121 Appendix A.2 for "${type}"`, () => {
    for (const [from, route, to] of table) {
      const result = outbound(type, STATES[from]);
      assert.equal(result.route, route, `${from}: route`);
      assert.equal(name(result.next), to, `${from}: new state`);
    }
  });
}

for (const [type, table] of Object.entries(INBOUND) as [SubscriptionType, Table][]) {
  Deno.test(`inbound() follows RFC 6121 Appendix A.3 for "${type}"`, () => {
    for (const [from, deliver, to] of table) {
      const result = inbound(type, STATES[from]);
      assert.equal(result.deliver, deliver, `${from}: deliver`);
      assert.equal(name(result.next), to, `${from}: new state`);
    }
  });
}

Deno.test("subscribed without a pending request pre-approves; a request then needs no answer", () => {
  const approved = outbound("subscribed", STATES["None"]).next;
  assert.equal(approved.approved, true);
  const result = inbound("subscribe", approved);
  assert.deepEqual(result, {
    deliver: false,
    autoReply: true,
    next: { ...STATES["From"], approved: false },
  });
  // Unsubscribed cancels a pre-approval without routing anything.
  const cancelled = outbound("unsubscribed", approved);
  assert.deepEqual(cancelled, { route: false, next: STATES["None"] });
});

Deno.test("a request from an existing subscriber is approved by the server alone", () => {
  assert.deepEqual(inbound("subscribe", STATES["Both"]).autoReply, true);
  assert.deepEqual(inbound("subscribe", STATES["None"]).autoReply, false);
});
