// Interoperability of PEP (XEP-0163): slixmpp, written elsewhere, publishes an OMEMO device list
// with publish-options (XEP-0060 §7.1.5, XEP-0223) through its xep_0060 plugin, meets
// precondition-not-met when the options differ, and another account that is not a contact
// reads the open node. The client program is tests/clients/slixmpp_pep.py.
import { strict as assert } from "node:assert";
import { startTestServer } from "./_harness.ts";
import { findSlixmppPython, runSlixmpp, serverArgs, slixmppTestName } from "./_slixmpp.ts";

const PYTHON = await findSlixmppPython();

Deno.test({
  name: slixmppTestName(
    PYTHON,
    "slixmpp publishes with publish-options, and a non-contact reads the open node",
    "slixmpp PEP interop",
  ),
  ignore: PYTHON === undefined,
  async fn() {
    await using test = await startTestServer({
      accounts: [["romeo", "montague-1"], ["juliet", "capulet-2"]],
    });
    const run = await runSlixmpp(PYTHON!, "slixmpp_pep.py", {
      args: [...serverArgs(test), "--user1", "romeo:montague-1", "--user2", "juliet:capulet-2"],
    });
    assert.deepEqual(run.one("discover"), {
      identities: ["account/registered", "pubsub/pep"],
      publish_options: true,
    });
    assert.deepEqual(run.one("publish"), { item: "current" });
    assert.deepEqual(run.one("precondition"), { condition: "conflict", pubsub: true });
    assert.deepEqual(run.one("read"), { items: [{ id: "current", devices: ["12345", "4223"] }] });
  },
});
