// The server's log on stderr, one timestamped line per event. A busy server logs a few lines per
// login; writing each with its own system call costs more than the rest of the logging, so the
// lines of one event-loop turn go out together, right after it (and at once past a bound, so
// nothing piles up). `flush()` writes what is pending; the server calls it when it stops.
const encoder = new TextEncoder();

/** Lines kept before they are written at once, whatever the turn. */
const MAX_PENDING_LINES = 256;

/** A log function that writes batched lines to `write` (default: stderr). */
export class BatchedLog {
  #pending: string[] = [];
  /** Whether a write after this turn is due (setImmediate: cheaper than a timer per turn). */
  #scheduled = false;
  #write: (bytes: Uint8Array) => void;
  #now: () => Date;

  constructor(
    write: (bytes: Uint8Array) => void = (bytes) => writeAll(bytes),
    now: () => Date = () => new Date(),
  ) {
    this.#write = write;
    this.#now = now;
  }

  /** Logs one line (bound: pass `log.line` around as a function). */
  readonly line = (text: string): void => {
    this.#pending.push(`${this.#now().toISOString()} ${text}\n`);
    if (this.#pending.length >= MAX_PENDING_LINES) return this.flush();
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flush();
    });
  };

  /** Writes every pending line now. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const text = this.#pending.join("");
    this.#pending = [];
    this.#write(encoder.encode(text));
  }
}

function writeAll(bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}
