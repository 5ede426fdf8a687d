// The per-user limit of offline storage ([offline] max_messages), which a spec script cannot set.
import { parseScript } from "../lib/replay/parse.ts";
import { formatFailure, runScript } from "../lib/replay/run.ts";
import { startTestServer } from "./_harness.ts";

const SCRIPT = `# im: past [offline] max_messages, senders get service-unavailable (XEP-0160)

[Client] Romeo
	jid: romeo@localhost/orchard
	password: romeo-secret

[Client] Juliet
	jid: juliet@localhost/balcony
	password: juliet-secret

-----

Romeo connects

Romeo sends:
	<message to="juliet@localhost" type="chat" id="m1"><body>one</body></message>
	<message to="juliet@localhost" type="chat" id="m2"><body>two</body></message>
	<message to="juliet@localhost" type="chat" id="m3"><body>three</body></message>

Romeo receives:
	<message from="juliet@localhost" type="error" id="m3">
		<error type="cancel">
			<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
		</error>
	</message>

Juliet connects

Juliet sends:
	<presence/>

Juliet receives:
	<presence from="\${Juliet's full JID}"/>

Juliet receives:
	<message id="m1"><body>one</body></message>

Juliet receives:
	<message id="m2"><body>two</body></message>

# Delivered messages free the storage again.
Juliet disconnects

Romeo sends:
	<message to="juliet@localhost" type="chat" id="m4"><body>four</body></message>

Juliet connects

Juliet sends:
	<presence/>

Juliet receives:
	<presence from="\${Juliet's full JID}"/>

Juliet receives:
	<message id="m4"><body>four</body></message>

Juliet disconnects

Romeo disconnects
`;

Deno.test("offline storage refuses messages past [offline] max_messages", async () => {
  await using test = await startTestServer({
    accounts: [["romeo", "romeo-secret"], ["juliet", "juliet-secret"]],
    configure: (config) => void (config.offline.maxMessages = 2),
  });
  const result = await runScript(parseScript(SCRIPT, "offline_limit"), {
    host: "127.0.0.1",
    port: test.port,
  });
  if (!result.ok) throw new Error(formatFailure(result, "offline_limit"));
});

const DROP = `# im: with [blocking] bounce = false, a blocked sender hears nothing

[Client] Romeo
	jid: romeo@localhost/orchard
	password: romeo-secret

[Client] Tybalt
	jid: tybalt@localhost/street
	password: tybalt-secret

-----

Romeo connects

Romeo sends:
	<iq type="set" id="b1"><block xmlns="urn:xmpp:blocking"><item jid="tybalt@localhost"/></block></iq>

Romeo receives:
	<iq type="result" id="b1"/>

Romeo sends:
	<presence/>

Tybalt connects

Tybalt sends:
	<message to="romeo@localhost" type="chat" id="t1"><body>Draw!</body></message>
	<iq to="romeo@localhost/orchard" type="get" id="t2"><ping xmlns="urn:xmpp:ping"/></iq>
	<message to="romeo@localhost" type="chat" id="t3" xml:lang="en"><body>Coward</body></message>

# Nothing came back for t1..t3; a stanza to someone else still gets its answer.
Tybalt sends:
	<iq to="localhost" type="get" id="t4"><ping xmlns="urn:xmpp:ping"/></iq>

Tybalt receives:
	<iq from="localhost" type="result" id="t4"/>

Tybalt disconnects

Romeo disconnects
`;

Deno.test("[blocking] bounce = false drops stanzas from blocked senders silently", async () => {
  await using test = await startTestServer({
    accounts: [["romeo", "romeo-secret"], ["tybalt", "tybalt-secret"]],
    configure: (config) => void (config.blocking.bounce = false),
  });
  const result = await runScript(parseScript(DROP, "blocking_drop"), {
    host: "127.0.0.1",
    port: test.port,
  });
  if (!result.ok) throw new Error(formatFailure(result, "blocking_drop"));
});
