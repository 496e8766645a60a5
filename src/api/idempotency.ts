// Idempotency-Key as payment APIs do it: the key names the request, and a
// fingerprint of the request's transaction says whether a repeat is a retry
// (same transaction: the same id, one row) or a conflict (another
// transaction under a key already used: 409). Only keyed requests pay for
// the check: one primary-key lookup of the ids the key derives.
import type { Sql } from "../postgres/connection.ts";
import { type TransactionRow, toStoredTransaction } from "../postgres/stored-row.ts";
import { fingerprint } from "../transaction/fingerprint.ts";
import type { FieldError, Transaction } from "../transaction/rules.ts";
import { RequestError } from "./errors.ts";

/**
 * Throws a 409 when an id this key derives is already stored with another
 * transaction. `ids[i]` is the id of `transactions[i]`.
 */
export async function refuseKeyReuse(sql: Sql, key: string, ids: string[], transactions: Transaction[]): Promise<void> {
  const stored = await sql<TransactionRow[]>`SELECT * FROM transactions WHERE transaction_id = ANY(${ids}::uuid[])`;
  if (stored.length === 0) return;
  const index = new Map(ids.map((id, i) => [id, i]));
  const errors: FieldError[] = [];
  for (const row of stored) {
    const i = index.get(row.transaction_id) as number;
    const before = fingerprint(toStoredTransaction(row));
    const now = fingerprint(transactions[i] as Transaction);
    if (before === now) continue;
    const field = ids.length === 1 ? "idempotency-key" : `[${i}]`;
    errors.push({
      field,
      rule: `was already used for another transaction (stored as ${row.transaction_id}, fingerprint ${before.slice(0, 16)}…, this request ${now.slice(0, 16)}…)`,
    });
  }
  if (errors.length === 0) return;
  throw new RequestError(409, {
    error: "idempotency_key_reused",
    message: `Idempotency-Key ${JSON.stringify(key)} was already used for a different transaction; use a new key for a new transaction. ${errors.map((e) => `${e.field}: ${e.rule}`).join("; ")}`,
    errors,
  });
}
