// Message archive benchmark (not a test): fills one account's archive with a year of a busy
// account — 1,000,000 messages by default, with 50 contacts — through SqliteArchiveStore on a
// file database (WAL, as the server opens it), then times the queries clients make: the last
// page, a page in the middle by contact and date range, paging forwards with RSM <after/>, and
// the #extended after-id form. Each query includes the RSM count and index.
//
//   deno task bench:mam [--messages N] [--page N] [--keep]
import { parseArgs } from "node:util";
import { join } from "node:path";
import { SqliteArchiveStore } from "../../lib/mam/archive_store.ts";
import { MAM_MIGRATIONS } from "../../lib/mam/archive_store.ts";
import { PRUNE_BATCH } from "../../lib/mam/expiry.ts";
import { migrateModule, openDatabase } from "../../lib/storage/sqlite.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "1000000" },
    page: { type: "string", default: "50" },
    keep: { type: "boolean", default: false },
  },
});
const MESSAGES = Number(values.messages);
const PAGE = Number(values.page);
const CONTACTS = 50;
const YEAR_MS = 365 * 24 * 60 * 60 * 1000;
const BATCH = 10_000;

const dir = await Deno.makeTempDir({ prefix: "verona-bench-mam-" });
const path = join(dir, "verona.sqlite");
const db = openDatabase(path);
migrateModule(db, "mam", MAM_MIGRATIONS);
db.prepare("INSERT INTO accounts (username, created_at) VALUES (?, ?)").run("juliet", 0);
const store = new SqliteArchiveStore(db);

const start = Date.now() - YEAR_MS;
const step = YEAR_MS / MESSAGES;
const contact = (i: number) => `contact${i % CONTACTS}@example.org`;
const t0 = performance.now();
for (let done = 0; done < MESSAGES; done += BATCH) {
  for (let i = done; i < Math.min(done + BATCH, MESSAGES); i++) {
    const out = i % 3 === 0;
    const other = contact(i * 7919);
    store.append("juliet", {
      with: other,
      withResource: "phone",
      direction: out ? "out" : "in",
      time: Math.floor(start + i * step),
      stanza: `<message xmlns='jabber:client' from='${
        out ? "juliet@localhost/phone" : other + "/phone"
      }' to='${
        out ? other : "juliet@localhost"
      }' type='chat' id='m${i}'><body>Message number ${i}, a line of ordinary chat of about sixty bytes.</body></message>`,
    });
  }
  store.flush(); // one transaction per batch
}
const fillMs = performance.now() - t0;
const size = (await Deno.stat(path)).size +
  ((await Deno.stat(path + "-wal").catch(() => null))?.size ?? 0);
console.log(
  `filled ${MESSAGES.toLocaleString("en")} messages in ${(fillMs / 1000).toFixed(1)} s ` +
    `(${Math.round(MESSAGES / (fillMs / 1000)).toLocaleString("en")}/s), ` +
    `database ${(size / 1024 / 1024).toFixed(0)} MiB`,
);

/** Runs `fn` `rounds` times; returns the median and the worst, in ms. */
function time(name: string, rounds: number, fn: (round: number) => number): void {
  const times: number[] = [];
  let items = 0;
  for (let round = 0; round < rounds; round++) {
    const t = performance.now();
    items = fn(round);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `${name.padEnd(58)} median ${median.toFixed(2).padStart(7)} ms   max ${
      times[times.length - 1].toFixed(2).padStart(7)
    } ms   (${items} items)`,
  );
}

const mid = start + YEAR_MS / 2;
const DAY = 24 * 60 * 60 * 1000;
time(
  "last page (RSM <before/>)",
  20,
  () => store.find("juliet", { max: PAGE, before: "" }).items.length,
);
time("first page", 20, () => store.find("juliet", { max: PAGE }).items.length);
time("with contact7, one week in the middle, first page", 20, (r) =>
  store.find("juliet", {
    max: PAGE,
    with: { bare: "contact7@example.org" },
    start: mid + r * DAY,
    end: mid + r * DAY + 7 * DAY,
  }).items.length);
time("with contact7, one week in the middle, last page", 20, (r) =>
  store.find("juliet", {
    max: PAGE,
    with: { bare: "contact7@example.org" },
    start: mid + r * DAY,
    end: mid + r * DAY + 7 * DAY,
    before: "",
  }).items.length);
time(
  "one day in the middle, all contacts",
  20,
  (r) =>
    store.find("juliet", { max: PAGE, start: mid + r * DAY, end: mid + (r + 1) * DAY })
      .items.length,
);

// Paging forwards from the middle of the archive, as a client catching up does.
let after = store.find("juliet", { max: 1, start: mid }).items[0].id;
time("RSM <after/> paging from the middle (20 pages in a row)", 20, () => {
  const page = store.find("juliet", { max: PAGE, after });
  after = page.items[page.items.length - 1].id;
  return page.items.length;
});
let afterId = store.find("juliet", { max: 1, start: mid - 30 * DAY }).items[0].id;
time("#extended after-id, 20 pages in a row", 20, () => {
  const page = store.find("juliet", { max: PAGE, afterId });
  afterId = page.items[page.items.length - 1].id;
  return page.items.length;
});
time("RSM <after/> with contact7 (20 pages in a row)", 20, () => {
  const first = store.find("juliet", {
    max: 1,
    with: { bare: "contact7@example.org" },
    start: mid,
  });
  return store.find("juliet", {
    max: PAGE,
    with: { bare: "contact7@example.org" },
    after: first.items[0].id,
  }).items.length;
});
time(
  "count only (RSM <max>0</max>): past countLimit, not counted",
  5,
  () => store.find("juliet", { max: 0 }).count ?? -1,
);
time(
  "what counting would cost: COUNT(*) of the whole archive",
  5,
  () =>
    Number(db.prepare("SELECT COUNT(*) AS n FROM mam_archive WHERE owner = ?").get("juliet")!.n),
);
time("metadata (first and last message)", 20, () => store.bounds("juliet") === null ? 0 : 2);

const plan = (sql: string, ...params: (string | number)[]) =>
  db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((row) => row.detail).join("; ");
console.log(
  "plan, with + range:",
  plan(
    "SELECT seq FROM mam_archive WHERE owner = ? AND with_jid = ? AND time >= ? AND time <= ? " +
      "ORDER BY time ASC, seq ASC LIMIT 51",
    "juliet",
    "contact7@example.org",
    mid,
    mid + DAY,
  ),
);
console.log(
  "plan, after:",
  plan(
    "SELECT seq FROM mam_archive WHERE owner = ? AND time >= ? AND (time > ? OR seq > ?) " +
      "ORDER BY time ASC, seq ASC LIMIT 51",
    "juliet",
    mid,
    mid,
    1,
  ),
);

// Expiry, as schedulePruning() runs it: batches of PRUNE_BATCH, each its own turn of the loop.
const t1 = performance.now();
let pruned = 0;
let worst = 0;
for (let n = -1; n !== 0;) {
  const t = performance.now();
  n = store.prune(start + YEAR_MS / 12, PRUNE_BATCH);
  worst = Math.max(worst, performance.now() - t);
  pruned += n;
}
console.log(
  `pruned the oldest month (${pruned.toLocaleString("en")} messages) in batches of ` +
    `${PRUNE_BATCH}: ${(performance.now() - t1).toFixed(0)} ms, the longest batch ${
      worst.toFixed(1)
    } ms`,
);
db.close();
if (values.keep) console.log(`database kept at ${path}`);
else await Deno.remove(dir, { recursive: true });
