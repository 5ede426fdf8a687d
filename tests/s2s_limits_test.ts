// Federation's bounds (lib/s2s/service.ts): stanzas for a server that is being reached wait in a
// bounded queue (past it they bounce with resource-constraint), a negotiation that never ends
// times out and bounces what waited (remote-server-timeout), a stream that idles is closed and a
// new one is opened when needed, and one peer cannot make the server open endless verifications.
import { strict as assert } from "node:assert";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { login } from "./_clients.ts";
import { startTestServer } from "./_harness.ts";
import { RawClient } from "./_raw_client.ts";
import { next, twoServers } from "./_two_servers.ts";

const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

/** A TCP server that accepts connections and never says anything. */
async function silentServer() {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))
  );
  return {
    port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** a.localhost with alice, whose routes to `domains` lead to `port` (a silent server). */
function serverWithStuckRoutes(port: number, domains: string[], s2s: Record<string, unknown>) {
  return startTestServer({
    accounts: [["alice", "secret"]],
    configure: (config) => {
      config.domain = "a.localhost";
      Object.assign(config.s2s, {
        staticRoutes: new Map(domains.map((domain) => [domain, { host: "127.0.0.1", port }])),
        ...s2s,
      });
    },
  });
}

Deno.test("s2s: past the queue bound stanzas bounce at once; a stalled negotiation bounces the rest", async () => {
  const silent = await silentServer();
  try {
    await using a = await serverWithStuckRoutes(silent.port, ["stuck.localhost"], {
      maxQueueStanzas: 3,
      negotiationTimeoutS: 1,
    });
    const alice = await login(a.port, "alice@a.localhost/phone", "secret");
    try {
      for (let i = 1; i <= 5; i++) {
        alice.send(
          `<message to='x@stuck.localhost' id='q${i}' type='chat'><body>${i}</body></message>`,
        );
      }
      const conditions = new Map<string, string>();
      const started = Date.now();
      while (conditions.size < 5) {
        const bounce = await next(alice, "message");
        assert.equal(bounce.attrs.type, "error");
        const condition = bounce.getChild("error")?.elements().find((c) =>
          c.attrs.xmlns === STANZAS
        );
        conditions.set(bounce.attrs.id!, condition?.name ?? "?");
      }
      assert.deepEqual(Object.fromEntries(conditions), {
        q4: "resource-constraint",
        q5: "resource-constraint",
        q1: "remote-server-timeout",
        q2: "remote-server-timeout",
        q3: "remote-server-timeout",
      });
      assert.ok(Date.now() - started < 5000);
    } finally {
      alice.close();
    }
  } finally {
    await silent.close();
  }
});

Deno.test("s2s: bytes waiting for all servers and servers being contacted are bounded too", async () => {
  const silent = await silentServer();
  try {
    const stuck = ["stuck.localhost", "other.localhost"];
    await using a = await serverWithStuckRoutes(silent.port, stuck, {
      maxTotalQueueBytes: 3000,
      maxOutgoingConnections: 1,
      negotiationTimeoutS: 2,
    });
    const alice = await login(a.port, "alice@a.localhost/phone", "secret");
    try {
      const big = "x".repeat(2000);
      const send = (id: string, to: string, body: string) =>
        alice.send(`<message to='${to}' id='${id}' type='chat'><body>${body}</body></message>`);
      send("waits", "x@stuck.localhost", big);
      send("total", "y@stuck.localhost", big);
      send("second-server", "z@other.localhost", "small");
      const bounces = new Map<string, string>();
      while (bounces.size < 3) {
        const bounce = await next(alice, "message");
        assert.equal(bounce.attrs.type, "error");
        const error = bounce.getChild("error");
        const condition = error?.elements().find((c) => c.attrs.xmlns === STANZAS)?.name;
        bounces.set(bounce.attrs.id!, `${condition}: ${error?.getChildText("text", STANZAS)}`);
      }
      assert.deepEqual(Object.fromEntries(bounces), {
        total: "resource-constraint: Too much waits for other servers",
        "second-server": "resource-constraint: Too many servers are being contacted",
        waits: "remote-server-timeout: stuck.localhost: negotiation took too long",
      });
      assert.ok(a.log.some((line) => line.includes("not contacting other.localhost")));
    } finally {
      alice.close();
    }
  } finally {
    await silent.close();
  }
});

Deno.test("s2s: an idle stream is closed, and the next stanza opens a new one", async () => {
  await using servers = await twoServers(undefined, { idleTimeoutS: 1 });
  const { a, b } = servers;
  const alice = await login(a.port, "alice@a.localhost/phone", "secret");
  const bob = await login(b.port, "bob@b.localhost/desk", "secret");
  try {
    bob.send("<presence/>");
    await next(bob, "presence");
    alice.send("<message to='bob@b.localhost' type='chat'><body>first</body></message>");
    assert.equal((await next(bob, "message")).getChildText("body"), "first");
    const deadline = Date.now() + 5000;
    while (!a.log.some((line) => line.includes("out a.localhost → b.localhost idle; closing"))) {
      assert.ok(Date.now() < deadline, a.log.join("\n"));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    alice.send("<message to='bob@b.localhost' type='chat'><body>second</body></message>");
    assert.equal((await next(bob, "message")).getChildText("body"), "second");
    const opened = a.log.filter((line) =>
      /out a\.localhost → b\.localhost authenticated/.test(line)
    );
    assert.equal(opened.length, 2, a.log.join("\n"));
  } finally {
    alice.close();
    bob.close();
  }
});

/** a.localhost taking s2s streams without TLS, authenticated by dialback alone. */
function plainDialbackServer() {
  return startTestServer({
    configure: (config) => {
      config.domain = "a.localhost";
      Object.assign(config.s2s, { requireEncryption: false, secureAuth: false });
    },
  });
}

/** Opens a dialback-capable s2s stream from `from` to a.localhost and reads its features. */
async function openServerStream(peer: RawClient, from: string): Promise<void> {
  peer.send(
    `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${from}' to='a.localhost' version='1.0'>`,
  );
  await peer.waitFor("</stream:features>");
}

Deno.test("s2s: one incoming stream may not ask for endless dialback verifications", async () => {
  await using a = await plainDialbackServer();
  const peer = await RawClient.connect(a.server.s2s!.port!);
  try {
    await openServerStream(peer, "evil.localhost");
    let results = "";
    for (let i = 0; i < 20; i++) {
      results += `<db:result from='d${i}.invalid' to='a.localhost'>00ff</db:result>`;
    }
    peer.send(results);
    await peer.waitFor("<policy-violation");
    await peer.waitClosed();
  } finally {
    peer.close();
  }
});

Deno.test("s2s: a peer may not claim one of this server's own domains", async () => {
  await using a = await plainDialbackServer();
  const peer = await RawClient.connect(a.server.s2s!.port!);
  try {
    await openServerStream(peer, "a.localhost");
    peer.send("<db:result from='a.localhost' to='a.localhost'>00ff</db:result>");
    await peer.waitFor(/<db:result[^>]*type=["']error["'][\s\S]*not-authorized/);
    peer.send(
      "<message from='admin@a.localhost' to='x@a.localhost'><body>spoof</body></message>",
    );
    await peer.waitFor("<invalid-from");
    assert.ok(a.log.some((line) => line.includes("claiming to be a.localhost")));
  } finally {
    peer.close();
  }
});
