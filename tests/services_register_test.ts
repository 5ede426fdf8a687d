// In-band registration (XEP-0077) over a real socket: before authentication (§3.1) with its
// per-address rate limit, and the effect of a password change (§3.3) on the other sessions.
import { strict as assert } from "node:assert";
import { ReplayClient } from "../lib/replay/client.ts";
import { ask, login as connect } from "./_clients.ts";
import { startTestServer } from "./_harness.ts";
import { openStream, RawClient } from "./_raw_client.ts";

const REGISTER = "jabber:iq:register";

function registerIq(id: string, username: string, password: string): string {
  return `<iq type='set' id='${id}'><query xmlns='${REGISTER}'>` +
    `<username>${username}</username><password>${password}</password></query></iq>`;
}

/** Logs in as a normal client would; throws if the credentials are refused. */
async function login(port: number, jid: string, password: string): Promise<void> {
  await using client = new ReplayClient();
  await client.connect({ host: "127.0.0.1", port, jid, password, timeoutMs: 5000 });
}

Deno.test("registration is off by default: no stream feature, and the iq is not-allowed", async () => {
  await using test = await startTestServer();
  const raw = await RawClient.connect(test.port);
  try {
    await raw.startTls();
    assert.ok(!raw.text.includes("iq-register"), raw.text);
    raw.send(`<iq type='get' id='reg1'><query xmlns='${REGISTER}'/></iq>`);
    await raw.waitFor(/id='reg1'[^>]*type='error'|type='error'[^>]*id='reg1'/);
    assert.match(raw.text, /<not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/>/);
    raw.send(registerIq("reg2", "mallory", "pw"));
    await raw.waitFor("id='reg2'");
    assert.equal(test.server.accounts.exists("mallory"), false);
    assert.ok(!raw.closed, "the stream stays open for SASL");
  } finally {
    raw.close();
  }
});

Deno.test("with [registration] allow, a client creates an account over TLS and logs in", async () => {
  await using test = await startTestServer({
    accounts: [["juliet", "capulet"]],
    configure: (config) => config.registration.allow = true,
  });
  // Not before STARTTLS: the feature is not offered in clear text.
  const clear = await RawClient.connect(test.port);
  try {
    clear.send(openStream());
    await clear.waitFor("</stream:features>");
    assert.ok(!clear.text.includes("iq-register"), clear.text);
  } finally {
    clear.close();
  }
  const raw = await RawClient.connect(test.port);
  try {
    await raw.startTls();
    assert.match(raw.text, /<register xmlns='http:\/\/jabber.org\/features\/iq-register'\/>/);

    raw.send(`<iq type='get' id='form1'><query xmlns='${REGISTER}'/></iq>`);
    await raw.waitFor("</iq>");
    assert.match(
      raw.text,
      /<query xmlns='jabber:iq:register'><instructions>[^<]+<\/instructions><username\/><password\/><\/query>/,
    );

    raw.send(registerIq("taken", "Juliet", "pw"));
    await raw.waitFor(/id='taken'[\s\S]*<\/iq>/);
    assert.match(raw.text, /id='taken'[^>]*>[\s\S]*<conflict /);

    raw.send(registerIq("badname", "a@b", "pw"));
    await raw.waitFor(/id='badname'[\s\S]*?<\/iq>/);
    assert.match(raw.text, /id='badname'[^>]*type='error'>[\s\S]*?<not-acceptable /);

    raw.send(registerIq("nopass", "romeo", ""));
    await raw.waitFor(/id='nopass'[\s\S]*?<\/iq>/);
    assert.match(raw.text, /id='nopass'[^>]*type='error'>[\s\S]*?<not-acceptable /);

    raw.send(`<iq type='set' id='rm'><query xmlns='${REGISTER}'><remove/></query></iq>`);
    await raw.waitFor(/id='rm'[\s\S]*?<\/iq>/);
    assert.match(raw.text, /id='rm'[^>]*type='error'>[\s\S]*?<registration-required /);

    raw.send(registerIq("ok", "Romeo", "montague"));
    await raw.waitFor(/<iq [^>]*id='ok'[^>]*\/>/);
    assert.match(raw.text, /<iq [^>]*type='result'[^>]*id='ok'|<iq [^>]*id='ok'[^>]*type='result'/);
    assert.ok(test.server.accounts.exists("romeo"));
  } finally {
    raw.close();
  }
  await login(test.port, "romeo@localhost", "montague");
});

Deno.test("a removed account's name stays reserved for tombstone_days; 0 frees it", async () => {
  for (const days of [30, 0]) {
    await using test = await startTestServer({
      accounts: [["romeo", "montague"]],
      configure: (config) => {
        config.registration.allow = true;
        config.registration.tombstoneDays = days;
      },
    });
    {
      await using client = new ReplayClient();
      await client.connect({
        host: "127.0.0.1",
        port: test.port,
        jid: "romeo@localhost",
        password: "montague",
        timeoutMs: 5000,
      });
      client.send(`<iq type='set' id='bye'><query xmlns='${REGISTER}'><remove/></query></iq>`);
      const answer = await client.waitForStanza({ timeoutMs: 5000 });
      assert.equal(answer.stanza.attrs.type, "result");
      const deadline = Date.now() + 5000;
      while (!client.closed && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(client.streamError?.condition, "not-authorized");
    }
    assert.equal(test.server.accounts.exists("romeo"), false);

    const raw = await RawClient.connect(test.port);
    try {
      await raw.startTls();
      raw.send(registerIq("again", "romeo", "new"));
      await raw.waitFor(/id='again'[\s\S]*?(\/>|<\/iq>)/);
      if (days === 0) {
        assert.match(raw.text, /id='again'[^>]*\/>|type='result'[^>]*id='again'/);
        assert.ok(test.server.accounts.exists("romeo"));
      } else {
        assert.match(raw.text, /<conflict [\s\S]*removed recently/);
        assert.equal(test.server.accounts.exists("romeo"), false);
      }
    } finally {
      raw.close();
    }
  }
});

/** Registers over a fresh TLS stream; returns what the server answered to the iq. */
async function registerOver(port: number, username: string, password: string): Promise<string> {
  const raw = await RawClient.connect(port);
  try {
    await raw.startTls();
    raw.send(registerIq("r", username, password));
    await raw.waitFor(/<iq [^>]*id='r'[^>]*(\/>|>[\s\S]*?<\/iq>)/);
    return raw.text.slice(raw.text.indexOf("<iq "));
  } finally {
    raw.close();
  }
}

Deno.test("[registration] min_seconds_between: one account per address per window; 0 lifts it", async () => {
  {
    // The default, 300 seconds.
    await using test = await startTestServer({
      accounts: [["juliet", "capulet"]],
      configure: (config) => config.registration.allow = true,
    });
    // A refused attempt does not use up the window.
    assert.match(await registerOver(test.port, "juliet", "pw"), /<conflict /);
    assert.match(await registerOver(test.port, "romeo", "pw1"), /type='result'/);
    const second = await registerOver(test.port, "mercutio", "pw2");
    assert.match(second, /type='error'/);
    assert.match(
      second,
      /<error type='wait'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/>/,
    );
    assert.match(second, /try again in (300|299) seconds/);
    assert.equal(test.server.accounts.exists("mercutio"), false);
  }
  {
    await using test = await startTestServer({
      configure: (config) => {
        config.registration.allow = true;
        config.registration.minSecondsBetween = 0;
      },
    });
    assert.match(await registerOver(test.port, "romeo", "pw1"), /type='result'/);
    assert.match(await registerOver(test.port, "mercutio", "pw2"), /type='result'/);
    assert.ok(test.server.accounts.exists("mercutio"));
  }
});

Deno.test("a password change ends the account's other sessions with <reset/>, not the changer's", async () => {
  await using test = await startTestServer({ accounts: [["romeo", "montague"]] });
  await using changer = await connect(test.port, "romeo@localhost/orchard", "montague");
  await using other = await connect(test.port, "romeo@localhost/balcony", "montague");
  const answer = await ask(
    changer,
    `<iq type='set' id='pw'><query xmlns='${REGISTER}'>` +
      `<username>romeo</username><password>rosaline</password></query></iq>`,
  );
  assert.equal(answer.attrs.type, "result");
  const deadline = Date.now() + 5000;
  while (!other.closed && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(other.streamError?.condition, "reset");
  assert.equal(other.streamError?.text, "Password changed");
  // The session that changed the password goes on.
  const pong = await ask(
    changer,
    `<iq type='get' id='ping' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`,
  );
  assert.equal(pong.attrs.type, "result");
  assert.ok(!changer.closed);
  await login(test.port, "romeo@localhost", "rosaline");
});
