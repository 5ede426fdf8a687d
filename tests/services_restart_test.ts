// The small services keep their state across a real restart of the server process: vCard,
// private XML, last activity and the tombstone of a removed account.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { assertStanza } from "../lib/replay/match.ts";
import { addUsers, ask, login as connect } from "./_clients.ts";
import { RawClient } from "./_raw_client.ts";
import { startServerProcess } from "./_process.ts";

const VCARD = `<vCard xmlns='vcard-temp'><FN>Romeo Montague</FN><NICKNAME>romeo</NICKNAME></vCard>`;
const PREFS = `<prefs xmlns='urn:example:prefs'><colour>crimson</colour></prefs>`;

Deno.test("vCard, private XML, last activity and tombstones survive a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-services-restart-" });
  try {
    const config = join(dataDir, "verona.toml");
    await Deno.writeTextFile(config, `data_dir = "."\n\n[registration]\nallow = true\n`);
    await addUsers([["romeo", "pw1"], ["juliet", "pw2"], ["tybalt", "pw3"]], ["--config", config]);

    const first = await startServerProcess(["--config", config]);
    try {
      await using romeo = await connect(first.port, "romeo@localhost", "pw1");
      assert.equal((await ask(romeo, `<iq type='set' id='v'>${VCARD}</iq>`)).attrs.type, "result");
      const stored = await ask(
        romeo,
        `<iq type='set' id='p'><query xmlns='jabber:iq:private'>${PREFS}</query></iq>`,
      );
      assert.equal(stored.attrs.type, "result");

      const juliet = await connect(first.port, "juliet@localhost", "pw2");
      juliet.send(`<presence/>`);
      juliet.send(`<presence type='unavailable'><status>To Mantua</status></presence>`);
      await juliet.sync(5000);
      await juliet.disconnect(5000);

      await using tybalt = await connect(first.port, "tybalt@localhost", "pw3");
      const removed = await ask(
        tybalt,
        `<iq type='set' id='r'><query xmlns='jabber:iq:register'><remove/></query></iq>`,
      );
      assert.equal(removed.attrs.type, "result");
    } finally {
      assert.equal(await first.stop(), 0);
    }

    const second = await startServerProcess(["--config", config]);
    try {
      await using romeo = await connect(second.port, "romeo@localhost", "pw1");
      assertStanza(
        await ask(
          romeo,
          `<iq type='get' id='v2' to='romeo@localhost'><vCard xmlns='vcard-temp'/></iq>`,
        ),
        `<iq type='result' id='v2' from='romeo@localhost'>${VCARD}</iq>`,
      );
      assertStanza(
        await ask(
          romeo,
          `<iq type='get' id='p2'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>`,
        ),
        `<iq type='result' id='p2'><query xmlns='jabber:iq:private'>${PREFS}</query></iq>`,
      );

      await using juliet = await connect(second.port, "juliet@localhost", "pw2");
      assertStanza(
        await ask(juliet, `<iq type='get' id='l2'><query xmlns='jabber:iq:last'/></iq>`),
        `<iq type='result' id='l2'><query xmlns='jabber:iq:last' seconds='{scansion:any}'>To Mantua</query></iq>`,
      );

      const raw = await RawClient.connect(second.port);
      try {
        await raw.startTls();
        raw.send(
          `<iq type='set' id='again'><query xmlns='jabber:iq:register'>` +
            `<username>tybalt</username><password>x</password></query></iq>`,
        );
        await raw.waitFor(/id='again'[\s\S]*?<\/iq>/);
        assert.match(raw.text, /<conflict [\s\S]*removed recently/);
      } finally {
        raw.close();
      }
    } finally {
      assert.equal(await second.stop(), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
