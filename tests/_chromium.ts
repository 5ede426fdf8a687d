// Headless Chromium (Debian's `chromium`) driven through the DevTools protocol, for tests of what
// a person sees in a browser: a web client logging in over WebSocket, the admin status page.
// Only what those tests need: open a page, evaluate script in it, wait for a condition, take a
// screenshot. Chromium's own DevToolsActivePort file tells the port it picked, so tests can run
// side by side.
import { join } from "node:path";

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome"];

/** The browser's executable, or null when none is installed (tests then fail with that reason). */
export function findChromium(): string | null {
  for (const name of CANDIDATES) {
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      try {
        const path = join(dir, name);
        if (Deno.statSync(path).isFile) return path;
      } catch { /* not there */ }
    }
  }
  return null;
}

/** One tab, spoken to over its DevTools WebSocket. */
export class Page {
  #socket: WebSocket;
  #next = 1;
  #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  /** Console messages and uncaught exceptions of the page, for failure messages. */
  readonly console: string[] = [];

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.id !== undefined) {
        const waiter = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(JSON.stringify(message.error)));
        else waiter?.resolve(message.result);
      } else if (message.method === "Runtime.consoleAPICalled") {
        const args = message.params.args.map((a: { value?: unknown; description?: string }) =>
          a.value ?? a.description
        );
        this.console.push(`${message.params.type}: ${args.join(" ")}`);
      } else if (message.method === "Runtime.exceptionThrown") {
        const details = message.params.exceptionDetails;
        this.console.push(`exception: ${details.exception?.description ?? details.text}`);
      }
    };
  }

  static async connect(url: string): Promise<Page> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot reach DevTools at ${url}`));
    });
    const page = new Page(socket);
    await page.send("Runtime.enable");
    await page.send("Page.enable");
    return page;
  }

  /** Sends a DevTools command and resolves with its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#next++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.set(id, { resolve, reject });
    this.#socket.send(JSON.stringify({ id, method, params }));
    return promise;
  }

  /** Loads `url` and waits for its load event. */
  async navigate(url: string): Promise<void> {
    await this.send("Page.navigate", { url });
    await this.waitFor("document.readyState === 'complete'");
  }

  /** The value of a script expression in the page (promises awaited). */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    }) as {
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (result.exceptionDetails) {
      const details = result.exceptionDetails;
      throw new Error(`in the page: ${details.exception?.description ?? details.text}`);
    }
    return result.result.value as T;
  }

  /** Waits until `expression` is truthy in the page, polling; throws after `timeoutMs`. */
  async waitFor(expression: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.evaluate<boolean>(`Boolean(${expression})`).catch(() => false)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${expression}; page console:\n${this.console.join("\n")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Writes a PNG of the viewport to `path`. */
  async screenshot(path: string): Promise<void> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" }) as {
      data: string;
    };
    await Deno.writeFile(path, Uint8Array.fromBase64(data));
  }

  close(): void {
    this.#socket.close();
  }
}

/** A headless Chromium with its own profile directory, gone when disposed. */
export class Chromium {
  #child: Deno.ChildProcess;
  #profile: string;
  readonly port: number;

  private constructor(child: Deno.ChildProcess, profile: string, port: number) {
    this.#child = child;
    this.#profile = profile;
    this.port = port;
  }

  /** Starts the browser (throws naming the package when it is not installed). */
  static async launch(options: { width?: number; height?: number } = {}): Promise<Chromium> {
    const executable = findChromium();
    if (executable === null) {
      throw new Error("no Chromium found: install Debian's chromium package (.ci/run does)");
    }
    const profile = await Deno.makeTempDir({ prefix: "verona-chromium-" });
    const child = new Deno.Command(executable, {
      args: [
        "--headless=new",
        "--no-sandbox", // tests run as root in containers, where the sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--ignore-certificate-errors", // the test server's certificate is self-signed
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        `--window-size=${options.width ?? 1280},${options.height ?? 800}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const portFile = join(profile, "DevToolsActivePort");
    const deadline = Date.now() + 20_000;
    let port = 0;
    while (port === 0) {
      const text = await Deno.readTextFile(portFile).catch(() => "");
      port = Number(text.split("\n")[0]) || 0;
      if (port !== 0) break;
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error("Chromium did not open its DevTools port within 20 s");
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return new Chromium(child, profile, port);
  }

  /** The first tab. */
  async page(): Promise<Page> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const targets = await fetch(`http://127.0.0.1:${this.port}/json/list`).then((r) => r.json())
        .catch(() => []) as { type: string; webSocketDebuggerUrl: string }[];
      const page = targets.find((target) => target.type === "page");
      if (page) return Page.connect(page.webSocketDebuggerUrl);
      if (Date.now() > deadline) throw new Error("Chromium has no page target");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000)),
    ]);
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
      await this.#child.status;
    }
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}
