import { strict as assert } from "node:assert";
import { el } from "../xml/element.ts";
import { SqliteAccountStore } from "./account_store.ts";
import { openDatabase } from "./sqlite.ts";
import { SqliteVcardStore } from "./vcard_store.ts";

Deno.test("SqliteVcardStore stores, replaces and cascades vCards", () => {
  using db = openDatabase(":memory:");
  const accounts = new SqliteAccountStore(db);
  accounts.create("romeo", []);
  const store = new SqliteVcardStore(db);
  assert.equal(store.get("romeo"), null);
  const vcard = el(
    "vCard",
    { xmlns: "vcard-temp" },
    el("FN", {}, "Romeo & <Juliet>"),
    el("x", { xmlns: "urn:example:ext" }, "é"),
  );
  store.set("romeo", vcard);
  assert.equal(store.get("romeo")!.toString(), vcard.toString());
  store.set("romeo", el("vCard", { xmlns: "vcard-temp" }));
  assert.equal(store.get("romeo")!.toString(), "<vCard xmlns='vcard-temp'/>");
  accounts.remove("romeo");
  assert.equal(store.get("romeo"), null);
});
