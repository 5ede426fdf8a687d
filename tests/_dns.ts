// A tiny authoritative DNS server for federation tests (RFC 1035 over UDP and TCP, RFC 2782 SRV,
// RFC 6891 EDNS0): every server under test (Verona, Prosody, ejabberd) is pointed at it, so
// peers find each other by `_xmpp-server._tcp` SRV records on loopback without touching
// /etc/hosts or the network. Unknown names answer NXDOMAIN at once, so nothing waits for a
// timeout.
//
// Use domains under `.internal` (or another ordinary name): Deno's resolver (hickory) answers
// `*.localhost` itself and never asks a name server for its SRV records, and libunbound (Prosody)
// has built-in local zones for `localhost.` and `test.` that shadow the forwarder.
import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";

/** Where a domain's s2s ports are (RFC 6120 §3.2.1, XEP-0368). */
export interface TestDnsEntry {
  /** Port of `_xmpp-server._tcp.<domain>` (STARTTLS). */
  port: number;
  /** Port of `_xmpps-server._tcp.<domain>` (direct TLS), if published. */
  directTlsPort?: number;
  /**
   * The SRV target; default `127.0.0.1`, a name this server answers with A 127.0.0.1 (as any
   * dotted-quad name). Not `<domain>`: ejabberd resolves SRV targets with libc's getaddrinfo
   * (net:getaddrinfo in p1_xmpp's xmpp_stream_out), which reads /etc/hosts and /etc/resolv.conf,
   * never the test DNS; a numeric target needs no lookup there, and Prosody and Deno still ask
   * this server for it.
   */
  target?: string;
}

/** A query the server saw, for debugging. */
export interface TestDnsQuery {
  name: string;
  type: string;
  transport: "udp" | "tcp";
  rcode: "NOERROR" | "NXDOMAIN" | "FORMERR" | "NOTIMP";
}

/** A running test DNS server on 127.0.0.1. */
export interface TestDns {
  /** The port, UDP and TCP alike. */
  port: number;
  /** Publishes SRV records for `domain` (see `TestDnsEntry`) and its A record (127.0.0.1). */
  set(domain: string, entry: TestDnsEntry): void;
  /** Publishes an A record (127.0.0.1) for `name` alone. */
  setA(name: string): void;
  /** Removes what `set()` or `setA()` published for `name`. */
  delete(name: string): void;
  /** Every query answered, oldest first. */
  queries: TestDnsQuery[];
  close(): Promise<void>;
}

const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33 };
const TYPE_OPT = 41;
const CLASS_IN = 1;
const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4 } as const;
/** Short, so a record changed during a test is not stale for long in a peer's cache. */
const TTL_SECONDS = 2;

const typeNames = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));

type Rdata = { type: number; data: Buffer };

/** Lower case without the trailing dot: DNS names compare case-insensitively. */
function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function encodeName(name: string): Buffer {
  const parts = normalize(name).split(".").filter((label) => label !== "");
  const bytes: number[] = [];
  for (const label of parts) {
    const encoded = Buffer.from(label, "ascii");
    bytes.push(encoded.length, ...encoded);
  }
  bytes.push(0);
  return Buffer.from(bytes);
}

function srv(port: number, target: string): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt16BE(0, 0); // priority
  head.writeUInt16BE(5, 2); // weight
  head.writeUInt16BE(port, 4);
  return Buffer.concat([head, encodeName(target)]);
}

/** Reads a (possibly compressed) name at `offset`; returns it and the offset after it. */
function readName(message: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    if (at >= message.length) throw new RangeError("name past the end");
    const length = message[at];
    if ((length & 0xc0) === 0xc0) {
      if (end < 0) end = at + 2;
      at = ((length & 0x3f) << 8) | message[at + 1];
      continue;
    }
    if (length === 0) return { name: labels.join("."), end: end < 0 ? at + 1 : end };
    labels.push(message.subarray(at + 1, at + 1 + length).toString("latin1"));
    at += 1 + length;
  }
  throw new RangeError("name compression loop");
}

/** Builds the server; the transport functions only move bytes. */
export async function startTestDns(): Promise<TestDns> {
  const zone = new Map<string, Rdata[]>();
  const queries: TestDnsQuery[] = [];

  const add = (name: string, record: Rdata) => {
    const key = normalize(name);
    const records = (zone.get(key) ?? []).filter((r) => r.type !== record.type);
    zone.set(key, [...records, record]);
  };
  const a = Buffer.from([127, 0, 0, 1]);
  /** The records of a name; a dotted-quad name (an SRV target) has A itself. */
  const lookup = (key: string): Rdata[] | undefined => {
    const quad = key.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
    if (quad && quad.slice(1).every((n) => Number(n) < 256)) {
      return [{ type: TYPE.A, data: Buffer.from(quad.slice(1).map(Number)) }];
    }
    return zone.get(key);
  };

  const answer = (query: Buffer, transport: "udp" | "tcp"): Buffer | undefined => {
    if (query.length < 12) return undefined;
    const id = query.readUInt16BE(0);
    const flags = query.readUInt16BE(2);
    if (flags & 0x8000) return undefined; // a response: never answer those
    const opcode = (flags >> 11) & 0xf;
    const qdcount = query.readUInt16BE(4);
    const arcount = query.readUInt16BE(10);
    let rcode: number = RCODE.NOERROR;
    let question: Buffer = Buffer.alloc(0);
    let name = "";
    let qtype = 0;
    let qclass = CLASS_IN;
    let edns = false;
    try {
      if (opcode !== 0) {
        rcode = RCODE.NOTIMP;
      } else if (qdcount !== 1) {
        rcode = RCODE.FORMERR;
      } else {
        const read = readName(query, 12);
        name = read.name;
        qtype = query.readUInt16BE(read.end);
        qclass = query.readUInt16BE(read.end + 2);
        // The question goes back as sent (RFC 1035 §4.1.2), letter case included.
        question = query.subarray(12, read.end + 4);
        // Skip to the additional section to see whether the client speaks EDNS0 (RFC 6891 §7).
        let at = read.end + 4;
        const skip = query.readUInt16BE(6) + query.readUInt16BE(8);
        for (let i = 0; i < skip + arcount && at < query.length; i++) {
          const rr = readName(query, at);
          const type = query.readUInt16BE(rr.end);
          const rdlength = query.readUInt16BE(rr.end + 8);
          if (i >= skip && type === TYPE_OPT) edns = true;
          at = rr.end + 10 + rdlength;
        }
      }
    } catch {
      rcode = RCODE.FORMERR;
    }

    let records: Rdata[] = [];
    if (rcode === RCODE.NOERROR) {
      const known = qclass === CLASS_IN ? lookup(normalize(name)) : undefined;
      if (known === undefined) rcode = RCODE.NXDOMAIN;
      else records = known.filter((r) => r.type === qtype); // else NOERROR, no data
    }
    queries.push({
      name,
      type: typeNames.get(qtype) ?? String(qtype),
      transport,
      rcode: (Object.keys(RCODE) as (keyof typeof RCODE)[]).find((k) => RCODE[k] === rcode)!,
    });

    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR, the query's opcode, AA, the query's RD, RA (forwarding resolvers expect it), rcode.
    header.writeUInt16BE(0x8000 | (opcode << 11) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 2);
    header.writeUInt16BE(question.length > 0 ? 1 : 0, 4);
    header.writeUInt16BE(records.length, 6);
    header.writeUInt16BE(0, 8);
    header.writeUInt16BE(edns ? 1 : 0, 10);
    const parts: Buffer[] = [header, question];
    for (const record of records) {
      const fixed = Buffer.alloc(12);
      fixed.writeUInt16BE(0xc00c, 0); // the owner is the question's name, at offset 12
      fixed.writeUInt16BE(record.type, 2);
      fixed.writeUInt16BE(CLASS_IN, 4);
      fixed.writeUInt32BE(TTL_SECONDS, 6);
      fixed.writeUInt16BE(record.data.length, 10);
      parts.push(fixed, record.data);
    }
    if (edns) {
      // Root name, OPT, 1232-byte UDP payload, no extended rcode, version 0, no DO bit.
      parts.push(Buffer.from([0, 0, TYPE_OPT, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]));
    }
    return Buffer.concat(parts);
  };

  const udp = dgram.createSocket("udp4");
  udp.on("message", (message, remote) => {
    const reply = answer(message, "udp");
    if (reply) udp.send(reply, remote.port, remote.address);
  });
  udp.on("error", () => {}); // a stray ICMP error must not crash the test
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(0, "127.0.0.1", () => {
      udp.off("error", reject);
      resolve();
    });
  });
  const port = udp.address().port;

  // TCP (RFC 1035 §4.2.2, RFC 7766): two-byte length, then the message; several per connection.
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const length = pending.readUInt16BE(0);
        const reply = answer(pending.subarray(2, 2 + length), "tcp");
        pending = pending.subarray(2 + length);
        if (reply) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        }
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, "127.0.0.1", () => {
      tcp.off("error", reject);
      resolve();
    });
  }).catch(async (error) => {
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    throw new Error(`Cannot start the test DNS on TCP port ${port}: ${error}`);
  });

  let closed: Promise<void> | undefined;
  return {
    port,
    queries,
    set(domain, entry) {
      const target = entry.target ?? "127.0.0.1";
      add(`_xmpp-server._tcp.${domain}`, { type: TYPE.SRV, data: srv(entry.port, target) });
      if (entry.directTlsPort !== undefined) {
        add(`_xmpps-server._tcp.${domain}`, {
          type: TYPE.SRV,
          data: srv(entry.directTlsPort, target),
        });
      } else {
        zone.delete(normalize(`_xmpps-server._tcp.${domain}`));
      }
      add(domain, { type: TYPE.A, data: a });
    },
    setA(name) {
      add(name, { type: TYPE.A, data: a });
    },
    delete(name) {
      zone.delete(normalize(name));
      zone.delete(normalize(`_xmpp-server._tcp.${name}`));
      zone.delete(normalize(`_xmpps-server._tcp.${name}`));
    },
    close() {
      closed ??= (async () => {
        for (const socket of sockets) socket.destroy();
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => tcp.close(() => resolve())),
        ]);
      })();
      return closed;
    },
  };
}
