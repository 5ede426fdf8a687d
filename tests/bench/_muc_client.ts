// Entering MUC rooms and configuring them from a bench client (XEP-0045 §7.2 entering a room,
// §10.1.2 instant rooms), shared by the load and scale benchmarks.
import { NS } from "../../lib/stanza/ns.ts";
import { escapeAttr } from "../../lib/xml/mod.ts";
import type { BenchClient } from "./_bench_client.ts";
import { attribute } from "./_stanza_splitter.ts";

/** Enters `client` into `roomJid` as `nick`; resolves after the subject, which ends entering. */
export async function enter(
  client: BenchClient,
  roomJid: string,
  nick: string,
  timeoutMs: number,
): Promise<{ created: boolean }> {
  const occupantJid = `${roomJid}/${nick}`;
  let created = false;
  const entered = client.waitFor(
    (raw) => {
      if (raw.startsWith("<presence")) {
        if (attribute(raw, "from") !== occupantJid) return false;
        if (attribute(raw, "type") === "error") return new Error(`entering refused: ${raw}`);
        if (raw.includes("code='201'") || raw.includes('code="201"')) created = true;
        return false;
      }
      return raw.startsWith("<message") && raw.includes("<subject") &&
        (attribute(raw, "from") ?? "").startsWith(roomJid);
    },
    timeoutMs,
    `entering ${occupantJid}`,
  );
  client.send(`<presence to='${escapeAttr(occupantJid)}'><x xmlns='${NS.MUC}'/></presence>`);
  await entered;
  return { created };
}

/** Submits the instant-room form (XEP-0045 §10.1.2) so that others may enter. */
export async function configureInstantRoom(
  client: BenchClient,
  roomJid: string,
  timeoutMs: number,
): Promise<void> {
  const id = client.nextId("cfg");
  const answered = client.waitFor(
    (raw) => {
      if (!raw.startsWith("<iq") || attribute(raw, "id") !== id) return false;
      return attribute(raw, "type") === "result" ||
        new Error(`configuring ${roomJid} refused: ${raw}`);
    },
    timeoutMs,
    `the answer to the configuration of ${roomJid}`,
  );
  client.send(
    `<iq type='set' id='${id}' to='${escapeAttr(roomJid)}'><query xmlns='${NS.MUC_OWNER}'>` +
      `<x xmlns='${NS.DATA_FORMS}' type='submit'/></query></iq>`,
  );
  await answered;
}
