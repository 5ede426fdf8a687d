// Helpers for every SQLite store (core and modules): transactions and typed column reads.
import type { DatabaseSync, SQLOutputValue } from "node:sqlite";

type Row = Record<string, SQLOutputValue>;

// Who hears how long each COMMIT of `transaction` took (the metrics module's timing).
const commitObservers = new WeakMap<DatabaseSync, (seconds: number) => void>();

/** Reports the duration of every COMMIT on `db` to `observer` (undefined: no longer). */
export function observeCommits(
  db: DatabaseSync,
  observer: ((seconds: number) => void) | undefined,
): void {
  if (observer === undefined) commitObservers.delete(db);
  else commitObservers.set(db, observer);
}

/**
 * Runs `fn` inside a transaction, committing on return and rolling back on throw. Nested calls join
 * the outer transaction. IMMEDIATE takes the write lock up front, so a concurrent writer waits on
 * busy_timeout instead of failing when a read lock would have to be upgraded.
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    const observe = commitObservers.get(db);
    const start = observe === undefined ? 0 : performance.now();
    db.exec("COMMIT");
    observe?.((performance.now() - start) / 1000);
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

function columnError(column: string, expected: string, value: unknown): Error {
  return new TypeError(
    `Cannot read column "${column}": expected ${expected}, got ${typeof value}`,
  );
}

export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== "string") throw columnError(column, "text", value);
  return value;
}

export function textOrNull(row: Row, column: string): string | null {
  const value = row[column];
  if (value === null) return null;
  if (typeof value !== "string") throw columnError(column, "text or null", value);
  return value;
}

export function integer(row: Row, column: string): number {
  const value = row[column];
  if (typeof value === "bigint") return Number(value);
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw columnError(column, "integer", value);
  }
  return value;
}

export function blob(row: Row, column: string): Uint8Array {
  const value = row[column];
  if (!(value instanceof Uint8Array)) throw columnError(column, "blob", value);
  return value;
}
