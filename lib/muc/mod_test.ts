import { strict as assert } from "node:assert";
import type { DatabaseSync } from "node:sqlite";
import { Accounts } from "../accounts/accounts.ts";
import { parseJid } from "../jid/jid.ts";
import { startModules } from "../modules/loader.ts";
import { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { migrateModule, openDatabase } from "../storage/sqlite.ts";
import { el, type Element } from "../xml/element.ts";
import { loadXml } from "../xml/stored.ts";
import { MUC_MODULE, type MucConfig } from "./mod.ts";
import { stanza } from "./_testing.ts";

const ROOM = "hall@conference.localhost";
const HOUR = 60 * 60 * 1000;

async function setUp(config: Partial<MucConfig> = {}, prepare?: (db: DatabaseSync) => void) {
  const db = openDatabase(":memory:");
  prepare?.(db);
  const accounts = new Accounts(new SqliteAccountStore(db));
  await accounts.create("romeo", "pw");
  const router = new Router({
    domain: "localhost",
    accountExists: (local) => accounts.exists(local),
    log: () => {},
  });
  const logs: string[] = [];
  const running = await startModules([MUC_MODULE], {
    router,
    db,
    accounts,
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: (line) => logs.push(line),
    section: () => ({
      enabled: true,
      archiving: true,
      archiveExpiresAfter: 0,
      vcardMaxBytes: 131072,
      ...config,
    }),
  });
  const received: Element[] = [];
  const session: BoundSession = {
    id: "romeo@localhost/orchard",
    jid: parseJid("romeo@localhost/orchard"),
    presence: el("presence"),
    priority: 0,
    directedPresence: new Set(),
    send: (out) => received.push(loadXml(out.toString())),
    sendXml: (xml) => received.push(loadXml(xml)),
    closeWithError: () => {},
  };
  router.bind(session);
  /** Sends as Romeo; resolves to what Romeo received meanwhile. */
  const send = async (xml: string) => {
    received.length = 0;
    const out = stanza(xml);
    out.attrs.from = session.jid.full;
    await router.fromClient(out, session);
    await new Promise((resolve) => setTimeout(resolve, 0));
    return received.map((element) => element.toString());
  };
  return {
    db,
    logs,
    send,
    async [Symbol.asyncDispose]() {
      await running.stop();
      db.close();
    },
  };
}

async function openRoom(send: (xml: string) => Promise<string[]>): Promise<void> {
  await send(
    `<presence to='${ROOM}/Romeo'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
  );
  await send(
    `<iq to='${ROOM}' type='set' id='c'><query xmlns='http://jabber.org/protocol/muc#owner'>` +
      "<x xmlns='jabber:x:data' type='submit'/></query></iq>",
  );
}

function archived(db: DatabaseSync): { time: number; realJid: string | null }[] {
  return db.prepare("SELECT time, real_jid FROM muc_archive ORDER BY seq").all().map((row) => ({
    time: Number(row.time),
    realJid: row.real_jid as string | null,
  }));
}

Deno.test("room archives expire after [muc] archive_expires_after, as the accounts' do", async () => {
  const now = Date.now();
  await using t = await setUp({ archiveExpiresAfter: HOUR }, (db) => {
    migrateModule(db, "muc", MUC_MODULE.migrations!);
    const insert = db.prepare(
      "INSERT INTO muc_archive (owner, id, time, with_jid, with_resource, direction, stanza) " +
        "VALUES (?, ?, ?, ?, 'Romeo', 'in', '<message/>')",
    );
    insert.run(ROOM, "old", now - 2 * HOUR, ROOM);
    insert.run(ROOM, "recent", now - HOUR / 2, ROOM);
  });
  for (let i = 0; i < 50 && archived(t.db).length > 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.deepEqual(archived(t.db).map((row) => row.time), [now - HOUR / 2]);
  assert.deepEqual(t.logs, ["muc: message archive: 1 expired messages deleted"]);
});

Deno.test("the module archives with the sender's real JID; [muc] archiving = false turns it all off", async () => {
  {
    await using t = await setUp();
    await openRoom(t.send);
    const said = await t.send(
      `<message to='${ROOM}' type='groupchat' id='m'><body>kept</body></message>`,
    );
    assert.match(said[0], /<stanza-id id='[^']+' by='hall@conference.localhost'/);
    assert.deepEqual(archived(t.db).map((row) => row.realJid), ["romeo@localhost/orchard"]);
  }
  await using t = await setUp({ archiving: false });
  await openRoom(t.send);
  const [info] = await t.send(
    `<iq to='${ROOM}' type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
  );
  assert.ok(!info.includes("urn:xmpp:mam:2") && info.includes("vcard-temp"), info);
  const [form] = await t.send(
    `<iq to='${ROOM}' type='get' id='f'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`,
  );
  assert.ok(form.includes("muc#roomconfig_roomname") && !form.includes("enablearchiving"), form);
  const [said] = await t.send(
    `<message to='${ROOM}' type='groupchat' id='m'><body>not kept</body>` +
      `<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='${ROOM}'/></message>`,
  );
  assert.ok(!said.includes("stanza-id"), said);
  assert.equal(archived(t.db).length, 0);
  const [refused] = await t.send(
    `<iq to='${ROOM}' type='set' id='q'><query xmlns='urn:xmpp:mam:2'/></iq>`,
  );
  assert.match(refused, /type='error'.*<service-unavailable /);
});

Deno.test("a v2 archive gains real_jid: its messages stay, without a real JID", async () => {
  await using t = await setUp({}, (db) => {
    migrateModule(db, "muc", MUC_MODULE.migrations!.slice(0, 2));
    db.prepare(
      "INSERT INTO muc_archive (owner, id, time, with_jid, with_resource, direction, stanza) " +
        "VALUES (?, 'old', ?, ?, 'Romeo', 'in', ?)",
    ).run(
      ROOM,
      Date.now(),
      ROOM,
      `<message from='${ROOM}/Romeo' type='groupchat'><body>old</body></message>`,
    );
  });
  assert.deepEqual(archived(t.db).map((row) => row.realJid), [null]);
  // The room is not stored (a temporary room's archive left by a restart): creating it clears it.
  await openRoom(t.send);
  assert.equal(archived(t.db).length, 0);
});
