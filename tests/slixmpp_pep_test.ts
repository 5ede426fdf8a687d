// Interoperability of PEP (XEP-0163): slixmpp, written elsewhere, publishes an OMEMO device list
// with publish-options (XEP-0060 §7.1.5, XEP-0223) through its xep_0060 plugin, meets
// precondition-not-met when the options differ, and another account that is not a contact
// reads the open node. The client program is tests/clients/slixmpp_pep.py.
import { strict as assert } from "node:assert";
import { startTestServer } from "./_harness.ts";
import { runSlixmpp, serverArgs, slixmppAccounts, slixmppTest, userArgs } from "./_slixmpp.ts";

slixmppTest(
  "slixmpp publishes with publish-options, and a non-contact reads the open node",
  "slixmpp PEP interop",
  async (python) => {
    await using test = await startTestServer({ accounts: slixmppAccounts(2) });
    const run = await runSlixmpp(python, "slixmpp_pep.py", {
      args: [...serverArgs(test), ...userArgs(2)],
    });
    assert.deepEqual(run.one("discover"), {
      identities: ["account/registered", "pubsub/pep"],
      publish_options: true,
    });
    assert.deepEqual(run.one("publish"), { item: "current" });
    assert.deepEqual(run.one("precondition"), { condition: "conflict", pubsub: true });
    assert.deepEqual(run.one("read"), { items: [{ id: "current", devices: ["12345", "4223"] }] });
  },
);
