// The rejections table (sql/002_rejections.sql): the final status of an
// accepted transaction the worker can never write. Written by the worker in
// the batch's database transaction (or, for rows PostgreSQL refused one by
// one, in one transaction right after), always before the batch's offsets
// move; read by the API.
import type postgres from "postgres";
import type { FieldError } from "../transaction/rules.ts";
import type { Sql } from "./connection.ts";

export type RejectionReason = "invalid_message" | "database_refused" | "idempotency_key_reused";

export interface Rejection {
  transactionId: string;
  reason: RejectionReason;
  message: string;
  errors: FieldError[];
  partition: number;
  offset: bigint;
  /** idempotency_key_reused: the refused transaction's fingerprint and the stored one's. */
  fingerprint?: string;
  storedFingerprint?: string;
  /** The id of the API key the transaction was sent with, when known. */
  apiKeyId?: string;
}

/** A rejection as the API answers it. */
export interface StoredRejection {
  transactionId: string;
  status: "Rejected";
  reason: string;
  message: string;
  errors: FieldError[];
  rejectedAt: string;
  apiKeyId: string | null;
}

interface RejectionRow {
  transaction_id: string;
  reason: string;
  message: string;
  errors: FieldError[];
  rejected_at: Date;
  api_key_id: string | null;
}

/**
 * Records rejections, one per Kafka message: one already recorded (a
 * redelivered batch) is kept as it was. An id already stored gets no second
 * status, except a reused Idempotency-Key, which is recorded beside the row
 * that won.
 */
export async function insertRejections(tx: postgres.TransactionSql | Sql, rejections: Rejection[]): Promise<void> {
  if (rejections.length === 0) return;
  const records = rejections.map((r) => ({
    transaction_id: r.transactionId,
    reason: r.reason,
    message: r.message,
    errors: r.errors,
    kafka_partition: r.partition,
    kafka_offset: r.offset.toString(),
    fingerprint: r.fingerprint ?? null,
    stored_fingerprint: r.storedFingerprint ?? null,
    api_key_id: r.apiKeyId ?? null,
  }));
  await tx`
    INSERT INTO rejections (
      transaction_id, reason, message, errors, kafka_partition, kafka_offset, fingerprint, stored_fingerprint,
      api_key_id)
    SELECT r.transaction_id, r.reason, r.message, r.errors, r.kafka_partition, r.kafka_offset,
           r.fingerprint, r.stored_fingerprint, r.api_key_id
    FROM jsonb_to_recordset(${tx.json(records as unknown as postgres.JSONValue)}) AS r(
      transaction_id uuid, reason text, message text, errors jsonb, kafka_partition integer, kafka_offset bigint,
      fingerprint text, stored_fingerprint text, api_key_id text)
    WHERE r.reason = 'idempotency_key_reused'
       OR NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = r.transaction_id)
    ORDER BY r.kafka_partition, r.kafka_offset
    ON CONFLICT (kafka_partition, kafka_offset) DO NOTHING`;
}

function toStoredRejection(row: RejectionRow): StoredRejection {
  return {
    transactionId: row.transaction_id,
    status: "Rejected",
    reason: row.reason,
    message: row.message,
    errors: row.errors,
    rejectedAt: row.rejected_at.toISOString(),
    apiKeyId: row.api_key_id,
  };
}

export async function findRejection(sql: Sql, id: string): Promise<StoredRejection | undefined> {
  const rows = await sql<RejectionRow[]>`
    SELECT transaction_id, reason, message, errors, rejected_at, api_key_id FROM rejections WHERE transaction_id = ${id}
    ORDER BY rejected_at, kafka_partition, kafka_offset LIMIT 1`;
  return rows[0] ? toStoredRejection(rows[0]) : undefined;
}

export interface RejectionCursor {
  rejectedAt: string;
  transactionId: string;
}

/** Newest first, keyset-paginated; `reason` filters. One row more than `limit` says another page exists. */
export async function listRejections(
  sql: Sql,
  reason: string | undefined,
  limit: number,
  after: RejectionCursor | undefined,
): Promise<{ rejections: StoredRejection[]; last: RejectionCursor | undefined; more: boolean }> {
  const conditions = [sql`TRUE`];
  if (reason !== undefined) conditions.push(sql`reason = ${reason}`);
  if (after !== undefined) {
    conditions.push(
      sql`(rejected_at, transaction_id) < (${after.rejectedAt}::timestamptz, ${after.transactionId}::uuid)`,
    );
  }
  const where = conditions.reduce((all, condition) => sql`${all} AND ${condition}`);
  const rows = await sql<RejectionRow[]>`
    SELECT transaction_id, reason, message, errors, rejected_at, api_key_id FROM rejections WHERE ${where}
    ORDER BY rejected_at DESC, transaction_id DESC
    LIMIT ${limit + 1}`;
  const page = rows.slice(0, limit).map(toStoredRejection);
  const lastRow = page.at(-1);
  return {
    rejections: page,
    last: lastRow ? { rejectedAt: lastRow.rejectedAt, transactionId: lastRow.transactionId } : undefined,
    more: rows.length > limit,
  };
}
