import { strict as assert } from "node:assert";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { openTcp } from "./client_socket.ts";
import { Transport } from "./transport.ts";

/** A server-side socket and the client's end of one loopback TCP connection. */
async function socketPair(): Promise<{ server: Socket; client: Socket; close(): void }> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise<Socket>((resolve) => listener.once("connection", resolve));
  const client = await openTcp("127.0.0.1", (listener.address() as AddressInfo).port, 5000);
  const server = await accepted;
  return {
    server,
    client,
    close() {
      client.destroy();
      listener.close();
    },
  };
}

Deno.test("Transport: a write to a socket destroyed under it ends the connection, and builds no error", async () => {
  const pair = await socketPair();
  try {
    let released = 0;
    const transport = new Transport(pair.server, undefined, () => released++);
    const closes: (Error | undefined)[] = [];
    transport.start({ data() {}, closed: (error) => closes.push(error), overflow() {} });
    const errors: Error[] = [];
    pair.server.on("error", (error) => errors.push(error));
    // As after a reset the socket layer saw first: destroyed, its events not yet delivered.
    pair.server.destroy();
    for (let i = 0; i < 100; i++) transport.write("<presence/>");
    assert.deepEqual(closes, [undefined], "the stream hears at the first write, once");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(errors, [], "no write was attempted on the destroyed socket");
    assert.equal(closes.length, 1);
    assert.equal(released, 1, "its place is given back once");
  } finally {
    pair.close();
  }
});
