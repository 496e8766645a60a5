// The one home of a stored transaction's shape: the columns of
// `transactions` (sql/001_transactions.sql creates them), the COPY line the
// worker writes, the staging table and casts derived from the same list, the
// row as postgres.js returns it, and the StoredTransaction the API answers
// with (a TypeBox schema, so its type, validator and OpenAPI are one).
import { type Static, Type } from "@sinclair/typebox";
import type postgres from "postgres";
import { transactionText } from "../transaction/message.ts";
import type { AcceptedTransaction, Transaction, TransactionType } from "../transaction/rules.ts";
import { copyField } from "./copy-text.ts";

/**
 * The columns a COPY line fills, in its order, with their SQL types: the
 * accepted transaction in message field order (transactionText), then where
 * the worker read it, then the API key's id (sql/003_api_key_ids.sql).
 * status and committed_at take their column defaults.
 */
export const copyColumnTypes = [
  ["transaction_id", "uuid"],
  ["step", "integer"],
  ["type", "text"],
  ["amount", "numeric"],
  ["name_orig", "text"],
  ["oldbalance_org", "numeric"],
  ["newbalance_orig", "numeric"],
  ["name_dest", "text"],
  ["oldbalance_dest", "numeric"],
  ["newbalance_dest", "numeric"],
  ["is_fraud", "boolean"],
  ["is_flagged_fraud", "boolean"],
  ["accepted_at", "timestamptz"],
  ["kafka_partition", "integer"],
  ["kafka_offset", "bigint"],
  ["api_key_id", "text"],
] as const;

export type CopyColumn = (typeof copyColumnTypes)[number][0];

/** The columns of a COPY line, in order: COPY names them for both tables. */
export const copyColumns: CopyColumn[] = copyColumnTypes.map(([column]) => column);

/** One transaction to write and where it was read from Kafka. */
export interface ConsumedTransaction {
  transaction: AcceptedTransaction;
  partition: number;
  offset: bigint;
}

/** A consumed transaction as one COPY text line, fields in copyColumns order. */
export function copyLine(row: ConsumedTransaction): string {
  // Only the names can hold a character COPY escapes (a backslash): every
  // other field was validated to digits, letters, '-', '.', ':' (ids, money,
  // times, types), so it goes in as it is. Money stays the decimal string it
  // arrived as; PostgreSQL's NUMERIC parses it.
  // The key id's own rule (letters, digits, '-') needs no escaping; \N is COPY's NULL.
  return `${transactionText(row.transaction, copyField)}\t${row.partition}\t${row.offset}\t${row.transaction.apiKeyId ?? "\\N"}\n`;
}

/** Name of the per-connection staging table: every column text, so COPY itself never refuses a value. */
export const stagingTable = "txlog_staging";

/** CREATE TEMP TABLE for the staging table: copyColumns, all text, emptied at each commit. */
export function createStagingTable(tx: postgres.TransactionSql) {
  const columns = copyColumns.map((column) => tx`${tx(column)} text`);
  return tx`CREATE TEMP TABLE IF NOT EXISTS ${tx(stagingTable)} (${join(tx, columns)}) ON COMMIT DELETE ROWS`;
}

/**
 * copyColumns as a fragment for an INSERT's column list (after INSERT,
 * postgres.js would take a bare array for rows of values).
 */
export function copyColumnList(tx: postgres.TransactionSql) {
  return join(
    tx,
    copyColumns.map((column) => tx`${tx(column)}`),
  );
}

/** The staging columns cast to their stored types, in copyColumns order (the INSERT … SELECT list). */
export function stagingCasts(tx: postgres.TransactionSql) {
  // The types are this module's constants, never input: safe to splice.
  return join(
    tx,
    copyColumnTypes.map(([column, type]) => tx`${tx(column)}::${tx.unsafe(type)}`),
  );
}

type Fragment = postgres.PendingQuery<postgres.Row[]>;

/** Fragments separated by commas. */
function join(tx: postgres.TransactionSql, fragments: Fragment[]): Fragment {
  return fragments.reduce((all, fragment) => tx`${all}, ${fragment}`);
}

/** A row of `transactions` as postgres.js returns it (numeric as text, timestamps as Date). */
export interface TransactionRow {
  transaction_id: string;
  step: number;
  type: TransactionType;
  amount: string;
  name_orig: string;
  oldbalance_org: string;
  newbalance_orig: string;
  name_dest: string;
  oldbalance_dest: string;
  newbalance_dest: string;
  is_fraud: boolean;
  is_flagged_fraud: boolean;
  status: "Completed";
  accepted_at: Date;
  committed_at: Date;
  kafka_partition: number | null;
  kafka_offset: string | null;
  api_key_id: string | null;
}

/** A stored transaction as the API answers it. */
export const StoredTransaction = Type.Object({
  transactionId: Type.String({ format: "uuid" }),
  step: Type.Integer(),
  type: Type.String(),
  amount: Type.String({ examples: ["9839.64"] }),
  nameOrig: Type.String(),
  oldbalanceOrg: Type.String(),
  newbalanceOrig: Type.String(),
  nameDest: Type.String(),
  oldbalanceDest: Type.String(),
  newbalanceDest: Type.String(),
  isFraud: Type.Boolean(),
  isFlaggedFraud: Type.Boolean(),
  status: Type.Literal("Completed"),
  acceptedAt: Type.String({ format: "date-time" }),
  committedAt: Type.String({ format: "date-time" }),
  apiKeyId: Type.Union([Type.String(), Type.Null()], {
    description: "id of the API key it was sent with (never the secret); null without keys",
  }),
});
export type StoredTransaction = Static<typeof StoredTransaction> & { type: TransactionType };

export function toStoredTransaction(row: TransactionRow): StoredTransaction {
  return {
    transactionId: row.transaction_id,
    step: row.step,
    type: row.type,
    amount: row.amount,
    nameOrig: row.name_orig,
    oldbalanceOrg: row.oldbalance_org,
    newbalanceOrig: row.newbalance_orig,
    nameDest: row.name_dest,
    oldbalanceDest: row.oldbalance_dest,
    newbalanceDest: row.newbalance_dest,
    isFraud: row.is_fraud,
    isFlaggedFraud: row.is_flagged_fraud,
    status: row.status,
    acceptedAt: row.accepted_at.toISOString(),
    committedAt: row.committed_at.toISOString(),
    apiKeyId: row.api_key_id,
  };
}

/** The columns of a transaction accepted at `acceptedAt` under `transactionId`, for an INSERT (the seed). */
export function transactionColumns(transactionId: string, acceptedAt: Date, t: Transaction) {
  return {
    transaction_id: transactionId,
    step: t.step,
    type: t.type,
    amount: t.amount,
    name_orig: t.nameOrig,
    oldbalance_org: t.oldbalanceOrg,
    newbalance_orig: t.newbalanceOrig,
    name_dest: t.nameDest,
    oldbalance_dest: t.oldbalanceDest,
    newbalance_dest: t.newbalanceDest,
    is_fraud: t.isFraud,
    is_flagged_fraud: t.isFlaggedFraud,
    status: "Completed",
    accepted_at: acceptedAt,
  } satisfies Partial<Record<keyof TransactionRow, unknown>>;
}

/** A staged transaction whose id is stored with another transaction: two requests under one Idempotency-Key. */
export interface KeyConflict {
  transactionId: string;
  partition: number;
  offset: bigint;
  staged: Transaction;
  stored: Transaction;
  /** The staged transaction's API key id (the same key id derived the same id), when it had one. */
  apiKeyId: string | null;
}

interface ConflictRow {
  transaction_id: string;
  kafka_partition: number;
  kafka_offset: string;
  staged: string[];
  stored: string[];
  api_key_id: string | null;
}

/** The transaction fields as text, canonical on both sides (numeric(16,2) prints two decimals). */
function fieldsOf(prefix: "s" | "t", tx: postgres.TransactionSql) {
  const column = (name: string) => tx.unsafe(`${prefix}.${name}`);
  return tx`ARRAY[${column("step")}::text, ${column("type")}::text, ${column("amount")}::numeric(16,2)::text,
    ${column("name_orig")}::text, ${column("oldbalance_org")}::numeric(16,2)::text, ${column("newbalance_orig")}::numeric(16,2)::text,
    ${column("name_dest")}::text, ${column("oldbalance_dest")}::numeric(16,2)::text, ${column("newbalance_dest")}::numeric(16,2)::text,
    ${column("is_fraud")}::boolean::text, ${column("is_flagged_fraud")}::boolean::text]`;
}

function transactionOf(fields: string[]): Transaction {
  const [step, type, amount, nameOrig, oldbalanceOrg, newbalanceOrig, nameDest, oldbalanceDest, newbalanceDest] =
    fields;
  return {
    step: Number(step),
    type: type as TransactionType,
    amount: amount as string,
    nameOrig: nameOrig as string,
    oldbalanceOrg: oldbalanceOrg as string,
    newbalanceOrig: newbalanceOrig as string,
    nameDest: nameDest as string,
    oldbalanceDest: oldbalanceDest as string,
    newbalanceDest: newbalanceDest as string,
    isFraud: fields[9] === "true",
    isFlaggedFraud: fields[10] === "true",
  };
}

/**
 * Staged rows whose id is already stored with different fields. A
 * redelivery or a retry carries the same fields and is no conflict. Asked
 * only when a batch held ids already stored, so it costs nothing otherwise.
 */
export async function keyConflicts(tx: postgres.TransactionSql): Promise<KeyConflict[]> {
  const rows = await tx<ConflictRow[]>`
    SELECT s.transaction_id, s.kafka_partition::integer AS kafka_partition, s.kafka_offset, s.api_key_id,
           ${fieldsOf("s", tx)} AS staged, ${fieldsOf("t", tx)} AS stored
    FROM ${tx(stagingTable)} s JOIN transactions t ON t.transaction_id = s.transaction_id::uuid
    WHERE ${fieldsOf("s", tx)} IS DISTINCT FROM ${fieldsOf("t", tx)}
    ORDER BY s.kafka_partition::integer, s.kafka_offset::bigint`;
  return rows.map((row) => ({
    transactionId: row.transaction_id,
    partition: row.kafka_partition,
    offset: BigInt(row.kafka_offset),
    staged: transactionOf(row.staged),
    stored: transactionOf(row.stored),
    apiKeyId: row.api_key_id,
  }));
}
