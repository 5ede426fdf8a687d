// The test DNS server of tests/_dns.ts, asked the way Verona asks (Deno.resolveDns with a name
// server), over UDP and over TCP.
import { strict as assert } from "node:assert";
import { Buffer } from "node:buffer";
import net from "node:net";
import { startTestDns } from "./_dns.ts";

Deno.test("the test DNS answers SRV, A and AAAA, and NXDOMAIN for the rest", async () => {
  const dns = await startTestDns();
  try {
    const options = { nameServer: { ipAddr: "127.0.0.1", port: dns.port } };
    // Plain objects: Deno's records have a null prototype, which strict deepEqual tells apart.
    const srv = async (name: string) =>
      (await Deno.resolveDns(name, "SRV", options)).map((record) => ({ ...record }));
    dns.set("Prosody.Internal", { port: 15269, directTlsPort: 15270 });
    dns.setA("plain.internal");

    assert.deepEqual(await srv("_xmpp-server._tcp.prosody.internal"), [
      { priority: 0, weight: 5, port: 15269, target: "127.0.0.1." },
    ]);
    assert.deepEqual(
      await srv("_XMPPS-server._tcp.PROSODY.internal."),
      [{ priority: 0, weight: 5, port: 15270, target: "127.0.0.1." }],
    );
    assert.deepEqual(await Deno.resolveDns("127.0.0.1", "A", options), ["127.0.0.1"]);
    dns.set("named.internal", { port: 15271, target: "named.internal" });
    assert.deepEqual(await srv("_xmpp-server._tcp.named.internal"), [
      { priority: 0, weight: 5, port: 15271, target: "named.internal." },
    ]);
    assert.deepEqual(await Deno.resolveDns("prosody.internal", "A", options), ["127.0.0.1"]);
    assert.deepEqual(await Deno.resolveDns("plain.internal", "A", options), ["127.0.0.1"]);
    // A name that exists without AAAA records: no data (hickory reports that as NotFound too).
    await assert.rejects(
      Deno.resolveDns("prosody.internal", "AAAA", options),
      Deno.errors.NotFound,
    );
    await assert.rejects(
      Deno.resolveDns("_xmpp-server._tcp.plain.internal", "SRV", options),
      Deno.errors.NotFound,
    );
    await assert.rejects(Deno.resolveDns("nowhere.internal", "A", options), Deno.errors.NotFound);

    const seen = dns.queries.map((q) => `${q.name.toLowerCase()} ${q.type} ${q.rcode}`);
    assert.ok(seen.includes("prosody.internal AAAA NOERROR"), seen.join("\n"));
    assert.ok(seen.includes("nowhere.internal A NXDOMAIN"), seen.join("\n"));

    dns.delete("prosody.internal");
    await assert.rejects(
      Deno.resolveDns("_xmpp-server._tcp.prosody.internal", "SRV", options),
      Deno.errors.NotFound,
    );
  } finally {
    await dns.close();
  }
});

/** A query for `name` A with an EDNS0 OPT record, as libunbound sends them. */
function query(id: number, name: string): Buffer {
  const labels = name.split(".").flatMap((l) => [l.length, ...Buffer.from(l)]);
  return Buffer.from([
    id >> 8,
    id & 0xff,
    0x01,
    0x00, // RD
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    1,
    ...labels,
    0,
    0,
    1,
    0,
    1,
    0,
    0,
    41,
    0x10,
    0x00,
    0,
    0,
    0x80,
    0,
    0,
    0, // OPT, 4096 bytes, DO
  ]);
}

Deno.test("the test DNS answers over TCP, several queries on one connection", async () => {
  const dns = await startTestDns();
  try {
    dns.setA("tcp.internal");
    const socket = net.connect(dns.port, "127.0.0.1");
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const done = new Promise<void>((resolve, reject) => {
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          replies.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
          pending = pending.subarray(2 + pending.readUInt16BE(0));
        }
        if (replies.length === 2) resolve();
      });
    });
    for (const [id, name] of [[7, "tcp.internal"], [8, "missing.internal"]] as const) {
      const message = query(id, name);
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(message.length);
      socket.write(Buffer.concat([prefix, message]));
    }
    await done;
    socket.destroy();
    const [found, missing] = replies;
    assert.equal(found.readUInt16BE(0), 7);
    assert.equal(found.readUInt16BE(2) & 0xf, 0); // NOERROR
    assert.equal(found.readUInt16BE(6), 1); // one answer
    assert.equal(found.readUInt16BE(10), 1); // our OPT, since the query had one
    assert.deepEqual([...found.subarray(found.length - 11 - 4, found.length - 11)], [127, 0, 0, 1]);
    assert.equal(missing.readUInt16BE(0), 8);
    assert.equal(missing.readUInt16BE(2) & 0xf, 3); // NXDOMAIN
    assert.deepEqual(dns.queries.map((q) => q.transport), ["tcp", "tcp"]);
  } finally {
    await dns.close();
  }
});
