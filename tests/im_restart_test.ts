// Persistence of the IM state across a real restart of the server process: rosters and their
// versions, pending subscription requests, offline messages and blocklists.
import { strict as assert } from "node:assert";
import { addUsers, replayText } from "./_clients.ts";
import { startServerProcess } from "./_process.ts";

const HEADER = `
[Client] Romeo
	jid: romeo@localhost/orchard
	password: montague-secret-1

[Client] Juliet
	jid: juliet@localhost/balcony
	password: capulet-secret-2

-----
`;

const BEFORE = `# IM restart, part 1: Romeo builds state while Juliet is offline
${HEADER}
Romeo connects

Romeo sends:
	<iq type="set" id="set1">
		<query xmlns="jabber:iq:roster">
			<item jid="nurse@localhost" name="Nurse"><group>Capulets</group></item>
		</query>
	</iq>

Romeo receives:
	<iq type="result" id="set1"/>

Romeo sends:
	<presence to="juliet@localhost" type="subscribe">
		<status>Let me in</status>
	</presence>

Romeo sends:
	<iq type="set" id="block1">
		<block xmlns="urn:xmpp:blocking"><item jid="tybalt@localhost"/></block>
	</iq>

Romeo receives:
	<iq type="result" id="block1"/>

Romeo sends:
	<message to="juliet@localhost" type="chat" id="off1">
		<body>Meet me at the friar's</body>
	</message>

Romeo sends:
	<iq type="get" id="ver1">
		<query xmlns="jabber:iq:roster" ver=""/>
	</iq>

Romeo receives:
	<iq type="result" id="ver1">
		<query xmlns="jabber:iq:roster" ver="2" scansion:strict="false"/>
	</iq>

Romeo disconnects
`;

const AFTER = `# IM restart, part 2: everything is still there
${HEADER}
Juliet connects

Juliet sends:
	<presence/>

Juliet receives:
	<presence from="\${Juliet's full JID}"/>

Juliet receives:
	<presence from="romeo@localhost" type="subscribe">
		<status>Let me in</status>
	</presence>

Juliet receives:
	<message from="romeo@localhost/orchard" type="chat" id="off1">
		<body>Meet me at the friar's</body>
		<delay xmlns="urn:xmpp:delay" from="localhost" stamp="{scansion:any}"/>
	</message>

Romeo connects

Romeo sends:
	<iq type="get" id="ver2">
		<query xmlns="jabber:iq:roster" ver="2"/>
	</iq>

Romeo receives:
	<iq type="result" id="ver2" to="\${Romeo's full JID}" scansion:strict="true"/>

Romeo sends:
	<iq type="get" id="get1">
		<query xmlns="jabber:iq:roster"/>
	</iq>

Romeo receives:
	<iq type="result" id="get1">
		<query xmlns="jabber:iq:roster" ver="2">
			<item jid="juliet@localhost" subscription="none" ask="subscribe"/>
			<item jid="nurse@localhost" name="Nurse" subscription="none">
				<group>Capulets</group>
			</item>
		</query>
	</iq>

Romeo sends:
	<iq type="get" id="bl1">
		<blocklist xmlns="urn:xmpp:blocking"/>
	</iq>

Romeo receives:
	<iq type="result" id="bl1">
		<blocklist xmlns="urn:xmpp:blocking">
			<item jid="tybalt@localhost"/>
		</blocklist>
	</iq>

Juliet disconnects

Romeo disconnects
`;

Deno.test("rosters, pending requests, offline messages and blocklists survive a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-im-restart-" });
  try {
    await addUsers([
      ["romeo@localhost", "montague-secret-1"],
      ["juliet@localhost", "capulet-secret-2"],
    ], ["--data", dataDir]);
    const first = await startServerProcess(["--data", dataDir]);
    try {
      await replayText(BEFORE, "im_restart_before", first.port);
    } finally {
      assert.equal(await first.stop("SIGTERM"), 0);
    }
    const second = await startServerProcess(["--data", dataDir]);
    try {
      await replayText(AFTER, "im_restart_after", second.port);
    } finally {
      assert.equal(await second.stop("SIGTERM"), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
