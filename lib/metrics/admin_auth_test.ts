import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import type { HttpRequestInfo } from "../http/server.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { AdminAuth, decodeBasic, safeForPasswords } from "./admin_auth.ts";

async function setUp() {
  const db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  await accounts.create("admin", "admin-pass");
  await accounts.create("juliet", "juliet-pass");
  const auth = new AdminAuth({
    accounts,
    domain: "localhost",
    admins: ["admin@localhost"],
    failures: { perSecond: 0.001, burst: 3 },
  });
  return { db, accounts, auth };
}

function basic(user: string, password: string): string {
  return "Basic " + new TextEncoder().encode(`${user}:${password}`).toBase64();
}

function request(authorization?: string, headers: Record<string, string> = {}): Request {
  return new Request("https://localhost/admin/", {
    headers: authorization ? { authorization, ...headers } : headers,
  });
}

const TLS: HttpRequestInfo = {
  remoteAddress: "203.0.113.7",
  secure: true,
  url: new URL("https://localhost/admin/"),
};
const PLAIN_REMOTE: HttpRequestInfo = { ...TLS, secure: false };
const PLAIN_LOOPBACK: HttpRequestInfo = { ...TLS, secure: false, remoteAddress: "127.0.0.1" };

Deno.test("AdminAuth: an admin's password over TLS passes, as localpart or bare JID", async () => {
  const { db, auth } = await setUp();
  for (const user of ["admin", "admin@localhost"]) {
    const check = await auth.check(request(basic(user, "admin-pass")), TLS);
    assert.deepEqual(check, { ok: true, jid: "admin@localhost" });
  }
  db.close();
});

Deno.test("AdminAuth: no credentials is 401 with a Basic challenge, a wrong password too", async () => {
  const { db, auth } = await setUp();
  for (
    const authorization of [undefined, basic("admin", "wrong"), "Bearer x", basic("nobody", "x")]
  ) {
    const check = await auth.check(request(authorization), { ...TLS, remoteAddress: "10.0.0.1" });
    assert.ok(!check.ok);
    assert.equal(check.response.status, 401, authorization);
    assert.match(check.response.headers.get("www-authenticate")!, /^Basic realm="Verona admin"/);
  }
  db.close();
});

Deno.test("AdminAuth: a right password of a non-admin is 403", async () => {
  const { db, auth } = await setUp();
  const check = await auth.check(request(basic("juliet", "juliet-pass")), TLS);
  assert.ok(!check.ok);
  assert.equal(check.response.status, 403);
  assert.match(await check.response.text(), /juliet@localhost is not an admin/);
  db.close();
});

Deno.test("AdminAuth: plain HTTP from another host is refused without asking for a password", async () => {
  const { db, auth } = await setUp();
  const check = await auth.check(
    request(basic("admin", "admin-pass")),
    PLAIN_REMOTE,
    "https://localhost:5281/admin/",
  );
  assert.ok(!check.ok);
  assert.equal(check.response.status, 403);
  assert.equal(check.response.headers.get("www-authenticate"), null);
  assert.match(await check.response.text(), /over HTTPS at https:\/\/localhost:5281\/admin\//);
  // From loopback it is accepted (a local scraper, or a proxy that terminated TLS) ...
  assert.ok((await auth.check(request(basic("admin", "admin-pass")), PLAIN_LOOPBACK)).ok);
  // ... unless that proxy says the client came over plain HTTP.
  const forwarded = request(basic("admin", "admin-pass"), { "x-forwarded-proto": "http" });
  assert.ok(!(await auth.check(forwarded, PLAIN_LOOPBACK)).ok);
  db.close();
});

Deno.test("safeForPasswords() reads X-Forwarded-Proto and Forwarded from a loopback proxy", () => {
  const from = (headers: Record<string, string>) => request(undefined, headers);
  assert.ok(safeForPasswords(from({}), PLAIN_LOOPBACK));
  assert.ok(safeForPasswords(from({ "x-forwarded-proto": "https" }), PLAIN_LOOPBACK));
  assert.ok(!safeForPasswords(from({ "x-forwarded-proto": "http" }), PLAIN_LOOPBACK));
  assert.ok(safeForPasswords(from({ forwarded: "for=1.2.3.4;proto=https" }), PLAIN_LOOPBACK));
  assert.ok(!safeForPasswords(from({ forwarded: 'for="[::1]";proto=http' }), PLAIN_LOOPBACK));
  assert.ok(!safeForPasswords(from({}), PLAIN_REMOTE));
  assert.ok(safeForPasswords(from({ "x-forwarded-proto": "http" }), TLS));
});

Deno.test("AdminAuth: failed logins are throttled per address, then 429 even for the right password", async () => {
  const { db, auth } = await setUp();
  const from = { ...TLS, remoteAddress: "198.51.100.1" };
  for (let i = 0; i < 3; i++) {
    const check = await auth.check(request(basic("admin", `wrong${i}`)), from);
    assert.equal(check.ok ? 200 : check.response.status, 401);
  }
  const blocked = await auth.check(request(basic("admin", "admin-pass")), from);
  assert.equal(blocked.ok ? 200 : blocked.response.status, 429);
  // Another address is not affected.
  assert.ok((await auth.check(request(basic("admin", "admin-pass")), TLS)).ok);
  db.close();
});

Deno.test("AdminAuth remembers a checked password, until it changes or the account goes", async () => {
  const { db, accounts } = await setUp();
  const checked: string[] = [];
  const counting = {
    scram: (username: string, hash: "SHA-1" | "SHA-256") => {
      checked.push(username);
      return accounts.scram(username, hash);
    },
  };
  const auth = new AdminAuth({
    accounts: counting,
    domain: "localhost",
    admins: ["admin@localhost"],
  });
  const ok = async (password: string) =>
    (await auth.check(request(basic("admin", password)), TLS)).ok;
  assert.ok(await ok("admin-pass"));
  assert.ok(await ok("admin-pass"));
  assert.ok(await ok("admin-pass"));
  await accounts.setPassword("admin", "new-pass");
  assert.ok(!(await ok("admin-pass")), "the old password no longer works");
  assert.ok(await ok("new-pass"));
  accounts.remove("admin");
  assert.ok(!(await ok("new-pass")), "nor any once the account is gone");
  assert.ok(checked.length > 0);
  db.close();
});

Deno.test("decodeBasic() reads RFC 7617 credentials in UTF-8, with a colon in the password", () => {
  assert.deepEqual(decodeBasic(basic("rom\u00e9o", "a:b")), {
    user: "rom\u00e9o",
    password: "a:b",
  });
  assert.deepEqual(decodeBasic("basic " + btoa("u:")), { user: "u", password: "" });
  assert.equal(decodeBasic("Basic " + btoa("no colon")), null);
  assert.equal(decodeBasic("Basic !!!"), null);
  assert.equal(decodeBasic("Basic " + btoa("\xff:x")), null); // not UTF-8
});
