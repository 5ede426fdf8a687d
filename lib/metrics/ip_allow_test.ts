import { strict as assert } from "node:assert";
import { AddressList, isLoopback, parsePrefix } from "./ip_allow.ts";

Deno.test("AddressList matches addresses and CIDR prefixes of both families", () => {
  const list = new AddressList(["10.0.0.0/8", "192.168.1.5", "fd00::/8", "2001:db8::1"]);
  for (const yes of ["10.2.3.4", "192.168.1.5", "fd12:3456::1", "2001:db8::1", "2001:DB8:0::1"]) {
    assert.ok(list.has(yes), yes);
  }
  for (const no of ["11.0.0.1", "192.168.1.6", "fe80::1", "2001:db8::2", "not an address", ""]) {
    assert.ok(!list.has(no), no);
  }
});

Deno.test("an IPv4-mapped IPv6 address matches as its IPv4 address, a zone is ignored", () => {
  const list = new AddressList(["127.0.0.1"]);
  assert.ok(list.has("::ffff:127.0.0.1"));
  assert.ok(list.has("::ffff:7f00:1"));
  assert.ok(new AddressList(["fe80::/10"]).has("fe80::1%eth0"));
});

Deno.test("isLoopback() knows 127/8 and ::1, and nothing else", () => {
  for (const yes of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"]) {
    assert.ok(isLoopback(yes), yes);
  }
  for (const no of ["128.0.0.1", "::", "::2", "10.0.0.1", "localhost"]) {
    assert.ok(!isLoopback(no), no);
  }
});

Deno.test("parsePrefix() refuses what is not an address or prefix", () => {
  for (
    const bad of [
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "10.0.0.0/33",
      "::/129",
      "256.0.0.1",
      "1.2.3",
      "01.2.3.4",
      "10.0.0.0/",
      "a/8",
    ]
  ) {
    assert.equal(parsePrefix(bad), null, bad);
  }
  assert.ok(parsePrefix("::"));
  assert.ok(parsePrefix("0.0.0.0/0"));
  assert.throws(() => new AddressList(["10.0.0.0/8", "nope"]), /Cannot parse "nope"/);
});

Deno.test("0.0.0.0/0 and ::/0 admit everything of their family", () => {
  assert.ok(new AddressList(["0.0.0.0/0"]).has("203.0.113.9"));
  assert.ok(!new AddressList(["0.0.0.0/0"]).has("2001:db8::1"));
  assert.ok(new AddressList(["::/0"]).has("2001:db8::1"));
});
