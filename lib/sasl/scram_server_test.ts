// Tests for scram_server.ts: RFC 5802 §5 and RFC 7677 §3 vectors, round trips, and failures.
import { strict as assert } from "node:assert";
import type { ScramHash } from "./credentials.ts";
import type { SaslServerMechanism, SaslStep } from "./mechanism.ts";
import { createScramServer } from "./scram_server.ts";
import { deriveScramCredentials } from "./scram.ts";
import { ScramClient } from "./client.ts";
import { fixedSource, memorySource, text } from "./_testing.ts";
import {
  decodeBase64,
  encodeBase64,
  hi,
  hmac,
  parseAttributes,
  scramKeys,
  xor,
} from "./_scram_util.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function challenge(step: SaslStep): string {
  assert.equal(step.kind, "challenge", `expected a challenge, got ${JSON.stringify(step)}`);
  return text(step.kind === "challenge" ? step.data : undefined);
}

function assertFailure(step: SaslStep, condition: string): void {
  assert.equal(step.kind, "failure", `expected failure, got ${JSON.stringify(step)}`);
  assert.equal(step.kind === "failure" && step.condition, condition);
}

/** Runs a ScramClient against `server`; returns the server's last step. */
async function exchange(
  server: SaslServerMechanism,
  client: ScramClient,
): Promise<SaslStep> {
  const serverFirst = await server.step(client.first());
  if (serverFirst.kind !== "challenge") return serverFirst;
  return await server.step(await client.final(serverFirst.data));
}

Deno.test("createScramServer() passes the RFC 5802 §5 SCRAM-SHA-1 example", async () => {
  const credentials = await deriveScramCredentials("pencil", {
    hash: "SHA-1",
    salt: decodeBase64("QSXCR+Q6sek8bf92")!,
    iterations: 4096,
  });
  const server = createScramServer("SHA-1", fixedSource("user", credentials), {
    nonce: () => "3rfcNHYJY1ZVvWVs7j",
  });
  assert.equal(server.name, "SCRAM-SHA-1");
  assert.equal(
    challenge(await server.step(enc("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"))),
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
  );
  const last = await server.step(
    enc("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="),
  );
  assert.equal(last.kind, "success");
  assert.equal(last.kind === "success" && last.username, "user");
  assert.equal(last.kind === "success" && text(last.data), "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
});

Deno.test("createScramServer() passes the RFC 7677 §3 SCRAM-SHA-256 example", async () => {
  const credentials = await deriveScramCredentials("pencil", {
    hash: "SHA-256",
    salt: decodeBase64("W22ZaJ0SNY7soEsUEjb6gQ==")!,
    iterations: 4096,
  });
  const server = createScramServer("SHA-256", fixedSource("user", credentials), {
    nonce: () => "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
  });
  assert.equal(server.name, "SCRAM-SHA-256");
  assert.equal(
    challenge(await server.step(enc("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))),
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  );
  const last = await server.step(
    enc(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    ),
  );
  assert.equal(last.kind, "success");
  assert.equal(
    last.kind === "success" && text(last.data),
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
  );
});

for (const hash of ["SHA-1", "SHA-256"] as ScramHash[]) {
  Deno.test(`createScramServer("${hash}") and ScramClient complete a round trip`, async () => {
    const source = await memorySource({ juliet: "r0m30 ✨" });
    const server = createScramServer(hash, source);
    const client = new ScramClient(hash, "juliet", "r0m30 ✨");
    const last = await exchange(server, client);
    assert.equal(last.kind, "success");
    assert.equal(last.kind === "success" && last.username, "juliet");
    assert.equal(
      await client.verify(last.kind === "success" ? last.data! : new Uint8Array()),
      true,
    );
    assert.deepEqual(source.lookups, [`${hash} juliet`]);
  });

  Deno.test(`createScramServer("${hash}") refuses a wrong password`, async () => {
    const server = createScramServer(hash, await memorySource({ juliet: "r0m30" }));
    assertFailure(
      await exchange(server, new ScramClient(hash, "juliet", "nurse")),
      "not-authorized",
    );
  });
}

Deno.test("createScramServer() asks for client-first when there is no initial response", async () => {
  const server = createScramServer("SHA-256", await memorySource({ juliet: "r0m30" }));
  assert.equal(challenge(await server.step(null)), "");
  const last = await exchange(server, new ScramClient("SHA-256", "juliet", "r0m30"));
  assert.equal(last.kind, "success");
});

Deno.test("createScramServer() hides unknown users until the proof", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  const shape = async (username: string) => {
    const server = createScramServer("SHA-256", source);
    const first = challenge(await server.step(enc(`n,,n=${username},r=abc`)));
    const attributes = parseAttributes(first)!;
    return {
      names: attributes.map(([name]) => name).join(","),
      saltLength: decodeBase64(attributes[1][1])!.length,
      iterations: attributes[2][1],
      salt: attributes[1][1],
    };
  };
  const known = await shape("juliet");
  const unknown = await shape("romeo");
  assert.deepEqual(
    { ...unknown, salt: undefined },
    { ...known, salt: undefined },
  );
  assert.equal((await shape("romeo")).salt, unknown.salt, "fake salt must be stable");
  assert.notEqual((await shape("mercutio")).salt, unknown.salt);

  const server = createScramServer("SHA-256", source);
  assertFailure(
    await exchange(server, new ScramClient("SHA-256", "romeo", "r0m30")),
    "not-authorized",
  );
});

Deno.test("createScramServer() refuses a tampered nonce or channel binding", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  for (
    const tamper of [
      (s: string) => s.replace(/,r=([^,]*)/, ",r=$1x"),
      (s: string) => s.replace(/,r=([^,]*)/, (_, nonce: string) => `,r=${nonce.slice(0, -1)}`),
      (s: string) => s.replace("c=biws", "c=eSws"),
    ]
  ) {
    const server = createScramServer("SHA-256", source);
    const client = new ScramClient("SHA-256", "juliet", "r0m30");
    const first = await server.step(client.first());
    const final = text(await client.final(first.kind === "challenge" ? first.data : enc("")));
    assertFailure(await server.step(enc(tamper(final))), "not-authorized");
  }
});

/** A client-final computed by hand, so tests can choose the GS2 header. */
async function handFinal(
  hash: ScramHash,
  password: string,
  gs2Header: string,
  clientFirstBare: string,
  serverFirst: string,
): Promise<string> {
  const attributes = new Map(parseAttributes(serverFirst)!);
  const salted = await hi(hash, password, decodeBase64(attributes.get("s")!)!, 4096);
  const { clientKey, storedKey } = await scramKeys(hash, salted);
  const withoutProof = `c=${encodeBase64(enc(gs2Header))},r=${attributes.get("r")}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const proof = xor(clientKey, await hmac(hash, storedKey, authMessage));
  return `${withoutProof},p=${encodeBase64(proof)}`;
}

Deno.test("createScramServer() accepts y,, (c=eSws) and an authzid echoed in c=", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  for (const gs2Header of ["y,,", "n,a=juliet,", "y,a=juliet@capulet.lit,"]) {
    const server = createScramServer("SHA-256", source);
    const bare = "n=juliet,r=abc";
    const serverFirst = challenge(await server.step(enc(gs2Header + bare)));
    const final = await handFinal("SHA-256", "r0m30", gs2Header, bare, serverFirst);
    if (gs2Header === "y,,") assert.match(final, /^c=eSws,/);
    const last = await server.step(enc(final));
    assert.equal(last.kind, "success", gs2Header);
    // The header must come back exactly as sent.
    const again = createScramServer("SHA-256", source);
    const first = challenge(await again.step(enc(gs2Header + bare)));
    const wrong = await handFinal("SHA-256", "r0m30", "n,,", bare, first);
    assertFailure(await again.step(enc(wrong)), "not-authorized");
  }
});

Deno.test("createScramServer() handles authzids", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  for (
    const [authzid, expected] of [
      ["a=juliet", "challenge"],
      ["a=juliet@capulet.lit", "challenge"],
      ["a=romeo", "invalid-authzid"],
      ["a=juliet@capulet.lit/balcony", "invalid-authzid"],
    ]
  ) {
    const step = await createScramServer("SHA-256", source).step(
      enc(`n,${authzid},n=juliet,r=abc`),
    );
    assert.equal(step.kind === "failure" ? step.condition : step.kind, expected, authzid);
  }
  const strict = createScramServer("SHA-256", source, { domain: "capulet.lit" });
  assertFailure(
    await strict.step(enc("n,a=juliet@montague.lit,n=juliet,r=abc")),
    "invalid-authzid",
  );
});

Deno.test("createScramServer() rejects malformed client-first messages", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  for (
    const message of [
      "",
      "n,,",
      "n,n=juliet,r=abc",
      "p=tls-unique,,n=juliet,r=abc",
      "x,,n=juliet,r=abc",
      "n,,m=ext,n=juliet,r=abc",
      "n,,n=,r=abc",
      "n,,n=jul=iet,r=abc",
      "n,,n=juliet\u0007,r=abc",
      "n,,n=juliet,r=",
      "n,,r=abc,n=juliet",
      "n,,n=juliet",
      "n,b=x,n=juliet,r=abc",
    ]
  ) {
    const step = await createScramServer("SHA-256", source).step(enc(message));
    assertFailure(step, "malformed-request");
  }
  assertFailure(
    await createScramServer("SHA-256", source).step(new Uint8Array([0x6e, 0x2c, 0x2c, 0xff])),
    "malformed-request",
  );
});

Deno.test("createScramServer() decodes =2C and =3D and prepares the username", async () => {
  const source = await memorySource({ "a,b=c": "pw", "IX": "pw" });
  const escaped = createScramServer("SHA-256", source);
  await escaped.step(enc("n,,n=a=2Cb=3Dc,r=abc"));
  const prepared = createScramServer("SHA-256", source);
  await prepared.step(enc("n,,n=I\u00ADX,r=abc"));
  assert.deepEqual(source.lookups, ["SHA-256 a,b=c", "SHA-256 IX"]);
  const last = await exchange(
    createScramServer("SHA-1", source),
    new ScramClient("SHA-1", "a,b=c", "pw"),
  );
  assert.equal(last.kind === "success" && last.username, "a,b=c");
});

Deno.test("createScramServer() rejects malformed client-final messages and extra steps", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  for (const final of ["", "c=biws", "c=biws,r=x", "r=x,c=biws,p=AAAA", "c=bi,r=x,p=AAAA"]) {
    const server = createScramServer("SHA-256", source);
    await server.step(enc("n,,n=juliet,r=abc"));
    assertFailure(await server.step(enc(final)), "malformed-request");
    assertFailure(await server.step(enc(final)), "malformed-request");
  }
  const server = createScramServer("SHA-256", source);
  assert.equal(
    (await exchange(server, new ScramClient("SHA-256", "juliet", "r0m30"))).kind,
    "success",
  );
  assertFailure(await server.step(enc("c=biws")), "malformed-request");
});
