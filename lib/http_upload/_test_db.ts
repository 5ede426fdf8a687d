// A fresh in-memory database with the module's tables, for the unit tests of this folder.
import type { DatabaseSync } from "node:sqlite";
import { migrateModule, openDatabase } from "../storage/sqlite.ts";
import { HTTP_UPLOAD_MIGRATIONS } from "./upload_store.ts";

/** An in-memory database with the core schema, the upload tables and these accounts. */
export function testDatabase(accounts: readonly string[] = ["romeo", "juliet"]): DatabaseSync {
  const db = openDatabase(":memory:");
  migrateModule(db, "http_upload", HTTP_UPLOAD_MIGRATIONS);
  for (const name of accounts) {
    db.prepare("INSERT INTO accounts (username, created_at) VALUES (?, ?)").run(name, Date.now());
  }
  return db;
}
