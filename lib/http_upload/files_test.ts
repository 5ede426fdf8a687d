import { strict as assert } from "node:assert";
import { join } from "node:path";
import { base64url, FileStore, isId, newId } from "./files.ts";

function random(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

async function tempStore(): Promise<FileStore & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "verona-files-test-" });
  const store = await FileStore.open(join(dir, "uploads"));
  return Object.assign(store, {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  });
}

/** A body in pieces of these sizes, as a byte stream (as Deno.serve gives) or a plain one. */
function body(data: Uint8Array, pieces: number[], bytes = true, fail?: Error) {
  let at = 0;
  let i = 0;
  const next = () => {
    const n = Math.min(pieces[i++ % pieces.length], data.length - at);
    const chunk = data.slice(at, at + n);
    at += n;
    return chunk;
  };
  return bytes
    ? new ReadableStream({
      type: "bytes",
      pull(controller) {
        if (at >= data.length) {
          if (fail) return controller.error(fail);
          controller.close();
          controller.byobRequest?.respond(0); // a pending BYOB read ends only so
          return;
        }
        controller.enqueue(next());
      },
    })
    : new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= data.length) {
          if (fail) controller.error(fail);
          else controller.close();
          return;
        }
        controller.enqueue(next());
      },
    });
}

const names = async (store: FileStore) =>
  (await store.ids()).map((f) => f.id + (f.partial ? ".part" : "")).sort();

Deno.test("newId() makes 22-character base64url ids; isId() accepts only those", () => {
  const id = newId();
  assert.ok(isId(id));
  assert.notEqual(newId(), id);
  assert.equal(base64url(new Uint8Array([0xfb, 0xff])), "-_8");
  for (
    const bad of ["", "../../etc/passwd", "a".repeat(21), "a".repeat(23), "a".repeat(21) + "/"]
  ) {
    assert.ok(!isId(bad), bad);
  }
});

Deno.test("FileStore.receive() stores a body split at awkward sizes, byte stream or not", async () => {
  await using store = await tempStore();
  const data = random(65536 * 3 + 7);
  for (const bytes of [true, false]) {
    for (const pieces of [[1], [7, 65536, 3], [300_000]]) {
      // One byte at a time: a short body, or this takes long.
      const sent = pieces[0] === 1 ? data.subarray(0, 3000) : data;
      const id = newId();
      assert.equal(await store.receive(id, body(sent, pieces, bytes), sent.length), "stored");
      const file = (await store.open(id))!;
      assert.deepEqual(new Uint8Array(await new Response(file.readable).arrayBuffer()), sent);
    }
  }
  const empty = newId();
  assert.equal(await store.receive(empty, null, 0), "stored");
  assert.equal((await Deno.stat(join(store.dir, empty))).size, 0);
});

Deno.test("FileStore.receive() keeps nothing of a body too long, too short or broken off", async () => {
  await using store = await tempStore();
  const data = random(10_000);
  assert.equal(await store.receive(newId(), body(data, [999]), 9_999), "too-long");
  assert.equal(await store.receive(newId(), body(data, [999]), 10_001), "too-short");
  await assert.rejects(
    store.receive(newId(), body(data, [4096], true, new Error("connection reset")), 20_000),
    /connection reset/,
  );
  assert.deepEqual(await names(store), []);
  // A second receive into a slot whose first is running fails rather than sharing its file.
  const id = newId();
  let release!: () => void;
  const held = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(5));
      release = () => controller.close();
    },
  });
  const first = store.receive(id, held, 5);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(await names(store), [id + ".part"]);
  await assert.rejects(store.receive(id, body(data, [5]), 5), Deno.errors.AlreadyExists);
  release();
  assert.equal(await first, "stored");
  assert.deepEqual(await names(store), [id]);
  await store.remove(id);
  await store.remove(id); // nothing there: no error
  assert.equal(await store.open(id), null);
  await assert.rejects(store.remove("../x"), /not a slot id/);
});
