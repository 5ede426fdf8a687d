// Interoperability: slixmpp (the Python library under Poezio and many bots), written elsewhere,
// drives Verona through its own API: STARTTLS with the server's certificate verified, SCRAM,
// roster and subscriptions both ways (RFC 6121 §2, §3), presence, chat, and MUC (XEP-0045 §10.1.2
// instant rooms, §10.2 configuration, §7.2.6 password-protected rooms) with its xep_0045 plugin,
// then logins over direct TLS (XEP-0368) with `use_ssl`.
// The client program is tests/clients/slixmpp_flows.py; it prints one JSON line per step.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { openDatabase } from "../lib/storage/sqlite.ts";
import { SqliteRoomStore } from "../lib/storage/room_store.ts";
import { SqliteRosterStore } from "../lib/storage/roster_store.ts";
import { startTestServer } from "./_harness.ts";
import { runSlixmpp, serverArgs, slixmppAccounts, slixmppTest, userArgs } from "./_slixmpp.ts";

slixmppTest(
  "slixmpp logs in, subscribes both ways, chats and uses MUC rooms",
  "slixmpp interop",
  async (python) => {
    await using test = await startTestServer({
      accounts: slixmppAccounts(2),
      configure: (config) => config.directTlsPort = 0, // a free port
    });
    const run = await runSlixmpp(python, "slixmpp_flows.py", {
      args: [
        ...serverArgs(test),
        ...userArgs(2),
        "--direct-tls-port",
        String(test.server.directTlsPort),
        "--timeout",
        "5",
      ],
    });
    // Login: a wrong password is refused; each account gets its own SCRAM variant over TLS,
    // with the server's certificate (CN=localhost) verified against the generated one.
    assert.deepEqual(run.one("bad_password"), { condition: "not-authorized" });
    assert.deepEqual(run.facts("login"), [
      {
        jid: "romeo@localhost/slix",
        mechanism: "SCRAM-SHA-256",
        tls: "TLSv1.3",
        peer_cn: "localhost",
      },
      {
        jid: "juliet@localhost/slix",
        mechanism: "SCRAM-SHA-1",
        tls: "TLSv1.3",
        peer_cn: "localhost",
      },
    ]);
    assert.deepEqual(run.facts("roster_get"), [
      { who: "romeo@localhost", items: [] },
      { who: "juliet@localhost", items: [] },
    ]);
    assert.deepEqual(run.one("initial_presence"), {});

    // Roster and subscriptions: add, subscribe, approve, and back, with the pushes on each side.
    assert.deepEqual(run.one("roster_add"), {
      jid: "juliet@localhost",
      name: "Juliet",
      groups: ["Verona"],
      subscription: "none",
      ask: null,
    });
    assert.deepEqual(run.one("subscribe_1"), {
      request_from: "romeo@localhost",
      type: "subscribe",
      push_ask: "subscribe",
      push_subscription: "none",
    });
    assert.deepEqual(run.one("approve_1"), {
      romeo_sees: "juliet@localhost/slix",
      romeo_item: "to",
      juliet_item: "from",
    });
    assert.deepEqual(run.one("subscribe_2"), {
      request_from: "juliet@localhost",
      type: "subscribe",
    });
    assert.deepEqual(run.one("approve_2"), {
      juliet_sees: "romeo@localhost/slix",
      romeo_item: "both",
      juliet_item: "both",
    });
    const unchanged = run.one("roster_get_unchanged");
    assert.equal(unchanged.items, 0, "a roster get with the current version returns no items");
    assert.deepEqual(run.one("roster_get_after"), {
      version: unchanged.version,
      items: { "juliet@localhost": { subscription: "both", name: "Juliet", groups: ["Verona"] } },
    });

    // Presence and chat.
    assert.deepEqual(run.one("presence_change"), {
      sender: "juliet@localhost/slix",
      show: "away",
      status: "at the balcony",
      romeo_view: "away",
    });
    assert.deepEqual(run.facts("chat"), [
      { sender: "romeo@localhost/slix", to: "juliet@localhost", body: "Good morrow" },
      { sender: "juliet@localhost/slix", to: "romeo@localhost/slix", body: "Good night" },
    ]);

    // MUC: a new room, created locked (201) and accepted as an instant room; Juliet can then join.
    assert.deepEqual(run.one("muc_create_instant"), {
      room: "balcony@conference.localhost",
      status_codes: [110, 201],
      affiliation: "owner",
      role: "moderator",
    });
    assert.deepEqual(run.one("muc_join"), {
      nick: "Juliet",
      role: "participant",
      occupants: ["Juliet", "Romeo"],
      roster: ["Juliet", "Romeo"],
    });
    assert.deepEqual(run.one("muc_groupchat"), {
      sender: "balcony@conference.localhost/Romeo",
      body: "Hark",
    });

    // MUC configuration: the form round-trips through xep_0004 and the change shows everywhere.
    const config = run.one("muc_config");
    assert.ok((config.field_count as number) >= 10, `config form fields: ${config.field_count}`);
    assert.equal(config.before, "");
    assert.equal(config.after, "The Balcony");
    assert.equal(config.persistent, true);
    assert.deepEqual(config.notice_codes, [104]);
    assert.deepEqual(config.identity, [["conference", "text", null, "The Balcony"]]);
    const features = config.features as string[];
    assert.ok(features.includes("muc_persistent"), `features: ${features}`);
    assert.ok(!features.includes("muc_temporary"), `features: ${features}`);
    assert.equal(config.roominfo_description, "Capulet orchard");

    // MUC password: set through muc#roomconfig_roomsecret; a wrong one is refused, the right one
    // lets Juliet in.
    const secret = run.one("muc_password_config");
    assert.equal(secret.secret_type, "text-private");
    assert.ok((secret.features as string[]).includes("muc_passwordprotected"));
    assert.ok(!(secret.features as string[]).includes("muc_unsecured"));
    assert.deepEqual(run.one("muc_password_wrong"), {
      error_type: "auth",
      condition: "not-authorized",
      owner_sees: ["Romeo"],
    });
    assert.deepEqual(run.one("muc_password_join"), {
      nick: "Juliet",
      role: "participant",
      occupants: ["Juliet", "Romeo"],
    });

    // Direct TLS (XEP-0368): the same certificate, ALPN xmpp-client, no STARTTLS inside, and
    // PLAIN as well as SCRAM (slixmpp allows PLAIN only over TLS), then a ping.
    const direct = { tls: "TLSv1.3", peer_cn: "localhost", alpn: "xmpp-client", starttls: false };
    assert.deepEqual(run.facts("login_direct_tls"), [
      { jid: "romeo@localhost/direct-plain", mechanism: "PLAIN", ...direct, pinged: true },
      {
        jid: "romeo@localhost/direct-scram-sha-1",
        mechanism: "SCRAM-SHA-1",
        ...direct,
        pinged: true,
      },
    ]);
    assert.equal(run.steps.at(-1)?.step, "done");

    // Server-side state: the rosters and the persistent room are in the database.
    using db = openDatabase(join(test.dataDir, "verona.sqlite"));
    const rosters = new SqliteRosterStore(db);
    assert.deepEqual(rosters.items("romeo"), [
      {
        jid: "juliet@localhost",
        name: "Juliet",
        subscription: "both",
        ask: false,
        approved: false,
        groups: ["Verona"],
      },
    ]);
    assert.deepEqual(
      rosters.items("juliet").map((item) => [item.jid, item.subscription, item.ask]),
      [["romeo@localhost", "both", false]],
    );
    assert.deepEqual(rosters.pending("romeo"), []);
    assert.deepEqual(rosters.pending("juliet"), []);
    const rooms = new SqliteRoomStore(db);
    const balcony = rooms.load("balcony@conference.localhost");
    assert.ok(balcony, "the persistent room is stored");
    assert.equal(balcony.config.name, "The Balcony");
    assert.equal(balcony.config.description, "Capulet orchard");
    assert.deepEqual(
      balcony.affiliations.map((a) => [a.jid, a.affiliation]),
      [["romeo@localhost", "owner"]],
    );
    assert.equal(rooms.load("crypt@conference.localhost"), null, "a temporary room is not stored");
  },
);
