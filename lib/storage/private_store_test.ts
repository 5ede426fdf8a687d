import { strict as assert } from "node:assert";
import { el } from "../xml/element.ts";
import { SqliteAccountStore } from "./account_store.ts";
import { SqlitePrivateStore } from "./private_store.ts";
import { openDatabase } from "./sqlite.ts";

Deno.test("SqlitePrivateStore keys elements by name and namespace, per account", () => {
  using db = openDatabase(":memory:");
  const accounts = new SqliteAccountStore(db);
  accounts.create("romeo", []);
  accounts.create("juliet", []);
  const store = new SqlitePrivateStore(db);
  store.set("romeo", el("prefs", { xmlns: "urn:a" }, el("x", {}, "1")));
  store.set("romeo", el("prefs", { xmlns: "urn:b" }, el("x", {}, "2")));
  store.set("romeo", el("prefs", { xmlns: "urn:a" }, el("x", {}, "3")));
  assert.equal(
    store.get("romeo", "prefs", "urn:a")!.toString(),
    "<prefs xmlns='urn:a'><x>3</x></prefs>",
  );
  assert.equal(store.get("romeo", "prefs", "urn:b")!.getChildText("x"), "2");
  assert.equal(store.get("juliet", "prefs", "urn:a"), null);
  assert.equal(store.count("romeo"), 2);
  assert.throws(() => store.set("romeo", el("bare")), /no namespace/);
  accounts.remove("romeo");
  assert.equal(store.count("romeo"), 0);
});
