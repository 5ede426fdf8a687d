import { strict as assert } from "node:assert";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el } from "../xml/element.ts";
import { HTTP_UPLOAD_OPTIONS, type HttpUploadConfig } from "./_options.ts";
import { testDatabase } from "./_test_db.ts";
import { isId } from "./files.ts";
import {
  mediaType,
  PURPOSE,
  readRequest,
  SlotIssuer,
  slotPath,
  tokenHash,
  typeAllowed,
  UPLOAD,
} from "./slots.ts";
import { UploadStore } from "./upload_store.ts";

function defaults(more: Partial<HttpUploadConfig> = {}): HttpUploadConfig {
  const config = Object.fromEntries(
    Object.entries(HTTP_UPLOAD_OPTIONS).map((
      [key, option],
    ) => [key, structuredClone(option.default)]),
  ) as unknown as HttpUploadConfig;
  return { ...config, ...more };
}

function issuer(more: Partial<HttpUploadConfig> = {}, now = () => 1_000_000) {
  const db = testDatabase();
  const store = new UploadStore(db);
  const slots = new SlotIssuer({
    config: defaults(more),
    store,
    url: (path) => "https://upload.example" + path,
    now,
  });
  return { db, store, slots };
}

async function refusal(promise: Promise<unknown>): Promise<StanzaError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StanzaError) return error;
    throw error;
  }
  assert.fail("expected a StanzaError");
}

Deno.test("readRequest() reads §4's attributes and refuses bad names and sizes", () => {
  const attrs = (a: Record<string, string>) => el("request", { xmlns: UPLOAD, ...a });
  assert.deepEqual(
    readRequest(attrs({ filename: "très cool.jpg", size: "23456", "content-type": "Image/JPEG" })),
    { filename: "très cool.jpg", size: 23456, contentType: "image/jpeg" },
  );
  assert.deepEqual(readRequest(attrs({ filename: "a", size: "0" })), {
    filename: "a",
    size: 0,
    contentType: undefined,
  });
  for (
    const bad of [
      { size: "1" },
      { filename: "a" },
      { filename: "a/b", size: "1" },
      { filename: "a\\b", size: "1" },
      { filename: "..", size: "1" },
      { filename: " ", size: "1" },
      { filename: "a\u0001", size: "1" },
      { filename: "é".repeat(128), size: "1" }, // 256 bytes
      { filename: "a", size: "-1" },
      { filename: "a", size: "1e3" },
      { filename: "a", size: "99999999999999999" },
      { filename: "a", size: "1", "content-type": "not a type" },
    ]
  ) {
    assert.throws(() => readRequest(attrs(bad as Record<string, string>)), (error) => {
      return error instanceof StanzaError && error.condition === "bad-request";
    }, JSON.stringify(bad));
  }
  assert.equal(readRequest(attrs({ filename: "é".repeat(127), size: "1" })).size, 1);
});

Deno.test("readRequest() reads the ephemeral purpose's expire-before; other purposes are the default", () => {
  const ephemeral = (at: string) =>
    el(
      "request",
      { xmlns: UPLOAD, filename: "s.jpg", size: "1" },
      el("ephemeral", { xmlns: PURPOSE, "expire-before": at }),
    );
  assert.equal(
    readRequest(ephemeral("2025-09-10T23:08:25Z")).expireBefore,
    Date.UTC(2025, 8, 10, 23, 8, 25),
  );
  assert.equal(
    readRequest(ephemeral("2025-09-10T23:08:25.5+02:00")).expireBefore,
    Date.UTC(2025, 8, 10, 21, 8, 25, 500),
  );
  for (const bad of ["", "tomorrow", "2025-09-10", "2025-09-10T23:08:25"]) {
    assert.throws(() => readRequest(ephemeral(bad)), StanzaError, bad);
  }
  const profile = el(
    "request",
    { xmlns: UPLOAD, filename: "a.png", size: "1" },
    el("profile", { xmlns: PURPOSE }),
  );
  assert.equal(readRequest(profile).expireBefore, undefined);
});

Deno.test("mediaType(), typeAllowed() and slotPath()", () => {
  assert.equal(mediaType("text/plain; charset=UTF-8"), "text/plain");
  assert.equal(mediaType("garbage"), undefined);
  assert.ok(typeAllowed([], "application/x-anything"));
  assert.ok(typeAllowed(["image/*"], "image/png"));
  assert.ok(typeAllowed(["video/mp4"], "video/mp4"));
  assert.ok(!typeAllowed(["image/*", "video/mp4"], "video/webm"));
  assert.equal(slotPath("id", "très cool.jpg"), "/upload/id/tr%C3%A8s%20cool.jpg");
  assert.equal(slotPath("id", "a?b#c%.txt"), "/upload/id/a%3Fb%23c%25.txt");
});

Deno.test("SlotIssuer.issue() records the slot and gives a bearer token whose hash it keeps", async () => {
  const { store, slots } = issuer({ slotTimeout: 300 });
  const slot = await slots.issue("romeo", {
    filename: "a.txt",
    size: 5,
    contentType: "text/plain",
  });
  assert.ok(isId(slot.id));
  assert.equal(slot.putUrl, `https://upload.example/upload/${slot.id}/a.txt`);
  assert.equal(slot.getUrl, slot.putUrl);
  assert.equal(slot.headers.length, 1);
  assert.equal(slot.headers[0].name, "Authorization");
  const token = slot.headers[0].value.replace(/^Bearer /, "");
  const record = store.get(slot.id)!;
  assert.equal(record.tokenHash, await tokenHash(token));
  assert.deepEqual(
    { ...record, tokenHash: "" },
    {
      id: slot.id,
      username: "romeo",
      filename: "a.txt",
      size: 5,
      contentType: "text/plain",
      tokenHash: "",
      createdAt: 1_000_000,
      slotExpiresAt: 1_300_000,
      uploadedAt: null,
      expiresAt: null,
    },
  );
  const other = await slots.issue("romeo", { filename: "a.txt", size: 5, contentType: undefined });
  assert.notEqual(other.id, slot.id);
  assert.equal(store.get(other.id)!.contentType, null);
});

Deno.test("SlotIssuer.issue() refuses: too large (§6), type, quota, daily quota, rate", async () => {
  let now = 1_000_000;
  const { store, slots } = issuer(
    {
      maxFileSize: 100,
      quotaBytes: 250,
      dailyQuotaBytes: 300,
      allowedTypes: ["image/*"],
      slotsPerMinute: 5,
      slotTimeout: 60,
    },
    () => now,
  );
  const ask = (size: number, contentType: string | undefined = "image/png", user = "romeo") =>
    slots.issue(user, { filename: "x.png", size, contentType });

  let error = await refusal(ask(101));
  assert.equal(error.condition, "not-acceptable");
  const extra = error.options.extra!;
  assert.ok(extra.is("file-too-large", UPLOAD));
  assert.equal(extra.getChildText("max-file-size"), "100");
  error = await refusal(ask(10, "application/pdf"));
  assert.equal(error.condition, "not-acceptable");
  error = await refusal(slots.issue("romeo", { filename: "x", size: 10, contentType: undefined }));
  assert.equal(error.condition, "not-acceptable", "no type is application/octet-stream");

  const first = await ask(100);
  const second = await ask(100);
  error = await refusal(ask(100));
  assert.deepEqual([error.type, error.condition], ["wait", "resource-constraint"]);
  assert.match(error.message, /^Quota reached: 200 of 250 bytes/);
  // Uploaded, then expired: the quota no longer counts them, the daily quota still does.
  store.complete(first.id, now, now + 1000);
  store.complete(second.id, now, now + 1000);
  now += 2000;
  await ask(100);
  error = await refusal(ask(100));
  assert.equal(error.condition, "resource-constraint");
  assert.match(error.message, /Daily quota/);
  assert.ok(error.options.extra?.is("retry", UPLOAD));
  // The rate: five a minute, in a burst; each user has their own.
  now += 61_000;
  await ask(1, "image/png", "juliet");
  for (let i = 0; i < 4; i++) await ask(1, "image/png", "juliet");
  error = await refusal(ask(1, "image/png", "juliet"));
  assert.match(error.message, /Too many upload slots/);
  assert.match(error.options.extra!.attrs.stamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(store.ofUser("juliet").length, 5);
});

Deno.test("SlotIssuer.issue() with expire-before: the file expires then at the latest", async () => {
  const now = 1_000_000;
  const { store, slots } = issuer({ expiresAfter: 3_600_000 }, () => now);
  const ask = (expireBefore: number) =>
    slots.issue("romeo", { filename: "s.jpg", size: 1, contentType: "image/jpeg", expireBefore });
  const error = await refusal(ask(now));
  assert.equal(error.condition, "bad-request");
  const soon = await ask(now + 60_000);
  const late = await ask(now + 7_200_000);
  assert.equal(store.get(soon.id)!.expiresAt, now + 60_000);
  store.complete(soon.id, now, now + 3_600_000);
  store.complete(late.id, now, now + 3_600_000);
  assert.equal(store.get(soon.id)!.expiresAt, now + 60_000, "expire-before, the earlier");
  assert.equal(store.get(late.id)!.expiresAt, now + 3_600_000, "expires_after, the earlier");
  const forever = await ask(now + 60_000);
  store.complete(forever.id, now, null);
  assert.equal(store.get(forever.id)!.expiresAt, now + 60_000);
});
