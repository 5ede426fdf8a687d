import { strict as assert } from "node:assert";
import { BatchedLog } from "./log.ts";

const decoder = new TextDecoder();

Deno.test("BatchedLog: one write per event-loop turn, lines timestamped and in order", async () => {
  const writes: string[] = [];
  const log = new BatchedLog(
    (bytes) => writes.push(decoder.decode(bytes)),
    () => new Date(0),
  );
  log.line("one");
  log.line("two");
  assert.deepEqual(writes, [], "nothing written within the turn");
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(writes, ["1970-01-01T00:00:00.000Z one\n1970-01-01T00:00:00.000Z two\n"]);
  log.line("three");
  log.flush();
  assert.equal(writes.length, 2);
  assert.match(writes[1], / three\n$/);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(writes.length, 2, "a flushed line is not written twice");
});

Deno.test("BatchedLog: written at once past 256 pending lines", () => {
  const writes: string[] = [];
  const log = new BatchedLog((bytes) => writes.push(decoder.decode(bytes)));
  for (let i = 0; i < 256; i++) log.line(`line ${i}`);
  assert.equal(writes.length, 1);
  assert.equal(writes[0].split("\n").length - 1, 256);
  log.flush();
});
