// Interoperability of PEP (XEP-0163): slixmpp, written elsewhere, publishes an OMEMO device list
// with publish-options (XEP-0060 §7.1.5, XEP-0223) through its xep_0060 plugin, meets
// precondition-not-met when the options differ, and another account that is not a contact
// reads the open node. The client program is tests/clients/slixmpp_pep.py.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestServer } from "./_harness.ts";
import { findSlixmppPython } from "./_slixmpp.ts";

const FLOWS = fileURLToPath(new URL("./clients/slixmpp_pep.py", import.meta.url));
const PYTHON = await findSlixmppPython();

Deno.test({
  name: PYTHON
    ? "slixmpp publishes with publish-options, and a non-contact reads the open node"
    : "slixmpp PEP interop (ignored: no python3 with slixmpp; apt-get install python3-slixmpp)",
  ignore: PYTHON === undefined,
  async fn() {
    await using test = await startTestServer({
      accounts: [["romeo", "montague-1"], ["juliet", "capulet-2"]],
    });
    const output = await new Deno.Command(PYTHON!, {
      args: [
        FLOWS,
        "--port",
        String(test.port),
        "--ca",
        join(test.dataDir, "localhost.crt"),
        "--user1",
        "romeo:montague-1",
        "--user2",
        "juliet:capulet-2",
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const decoder = new TextDecoder();
    const steps = decoder.decode(output.stdout).split("\n").filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const failed = steps.find((step) => !step.ok);
    if (failed || output.code !== 0) {
      assert.fail(
        `slixmpp PEP flow failed at ${failed?.step ?? "?"}: ${failed?.error ?? output.code}\n` +
          decoder.decode(output.stderr).slice(-4000),
      );
    }
    const facts = (name: string) => {
      const { step: _, ok: __, ...rest } = steps.find((step) => step.step === name)!;
      return rest;
    };
    assert.deepEqual(facts("discover"), {
      identities: ["account/registered", "pubsub/pep"],
      publish_options: true,
    });
    assert.deepEqual(facts("publish"), { item: "current" });
    assert.deepEqual(facts("precondition"), { condition: "conflict", pubsub: true });
    assert.deepEqual(facts("read"), { items: [{ id: "current", devices: ["12345", "4223"] }] });
  },
});
