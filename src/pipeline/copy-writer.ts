// Writes a batch of decoded transactions to PostgreSQL, one transaction per
// batch. The fast way, taken first: COPY the rows straight into transactions.
// The transaction id is the primary key, so a batch holding an id already
// stored (a redelivery after a crash, a failed offset commit, a rebalance, a
// retried Idempotency-Key) makes that COPY fail as a whole and roll back;
// the batch is then written the careful way: COPY into a temporary staging
// table and one INSERT … SELECT that skips ids already present. Either way,
// writing the same batch again adds nothing.
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type postgres from "postgres";
import type { Sql } from "../postgres/connection.ts";
import { CopyTextError } from "../postgres/copy-text.ts";
import { insertRejections } from "../postgres/rejections.ts";
import {
  type ConsumedTransaction,
  copyColumnList,
  copyColumns,
  copyLine,
  createStagingTable,
  keyConflicts,
  stagingCasts,
  stagingTable,
} from "../postgres/stored-row.ts";
import { errorText } from "../runtime/error-text.ts";
import { withTimeout } from "../runtime/timeout.ts";
import { fingerprint } from "../transaction/fingerprint.ts";

export interface WriteResult {
  /** Rows this write added. */
  inserted: number;
  /** Rows whose id was already in the table (or twice in the batch). */
  duplicates: number;
  /** "direct": COPY into transactions; "staging": through the staging table. */
  path: WritePath;
  /** Of the duplicates, ids stored with another transaction: recorded Rejected idempotency_key_reused. */
  keyConflicts: number;
}

export type WritePath = "direct" | "staging";

export class WriteInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WriteInvariantError";
  }
}

/** Lines per write to the COPY stream when the text comes as lines: bounds each chunk, not the batch. */
const copyChunkLines = 1000;

/** COPY text in chunks of whole lines (strings, or bytes a CopyLinesBuilder wrote). */
export type CopyText = ReadonlyArray<string | Uint8Array>;

/**
 * A batch to write: its COPY text, its row count, and its rows, decoded only
 * when they must be named (a write isolating a refused row, a dead letter).
 */
export interface EncodedRows {
  readonly count: number;
  readonly text: CopyText;
  rows(): ConsumedTransaction[];
}

/** Rows decoded already, encoded with copyLine. */
export function encodeRows(rows: ConsumedTransaction[]): EncodedRows {
  return { count: rows.length, text: copyChunks(rows.map(copyLine)), rows: () => rows };
}

export interface WriteOptions {
  /**
   * Longest wait for a COPY to finish, milliseconds. postgres.js 3.4.9 never
   * settles a COPY the server rejects after the last chunk (porsager/postgres
   * #1173; patches/postgres@3.4.9.patch applies the fix of PR #1183): should
   * a dependency update lose that fix, this bound still turns the hang into
   * an error and a rollback.
   */
  copyTimeoutMs?: number;
  /**
   * Try COPY straight into transactions first (default true). The worker turns
   * it off after a batch that held duplicates: a redelivered backlog would
   * otherwise fail the fast way batch after batch.
   */
  direct?: boolean;
  /** More work for the batch's transaction, done before it commits (the batch's rejections). */
  within?: (tx: postgres.TransactionSql) => Promise<unknown>;
}

export const copyTimeoutMsDefault = 60_000;

export class CopyTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`COPY did not finish within ${timeoutMs} ms`);
    this.name = "CopyTimeoutError";
  }
}

/**
 * Writes a batch's COPY text (`expectedRows` lines) in one PostgreSQL
 * transaction and says how many were new: the direct COPY
 * first unless options.direct is false, and the staging table when the
 * direct COPY is refused for its data (a duplicate id, or a value PostgreSQL
 * refuses, which the staging path then reports with a normal SQL error).
 */
export async function writeLines(
  sql: Sql,
  text: CopyText,
  expectedRows: number,
  options: WriteOptions = {},
): Promise<WriteResult> {
  if (expectedRows === 0) {
    if (options.within !== undefined) await sql.begin((tx) => options.within?.(tx));
    return { inserted: 0, duplicates: 0, path: "direct", keyConflicts: 0 };
  }
  if (options.direct !== false) {
    try {
      return await copyDirect(sql, text, expectedRows, options);
    } catch (error) {
      if (!isDataError(error)) throw error;
    }
  }
  return writeStagingLines(sql, text, expectedRows, options);
}

/** The batch's lines as COPY chunks of at most copyChunkLines lines each. */
function copyChunks(lines: string[]): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < lines.length; i += copyChunkLines) chunks.push(lines.slice(i, i + copyChunkLines).join(""));
  return chunks;
}

/** Streams `text` into a COPY … FROM STDIN, bounded by copyTimeoutMs. */
function copyInto(copy: Promise<Writable>, text: CopyText, copyTimeoutMs: number): Promise<void> {
  return withTimeout(
    copy.then((writable) => pipeline(Readable.from(text), writable)),
    copyTimeoutMs,
    () => new CopyTimeoutError(copyTimeoutMs),
  );
}

/**
 * COPY straight into transactions: no staging table, no second pass. COPY is
 * all or nothing, so when it succeeds every line is one new row; status and
 * committed_at take their column defaults ('Completed', the transaction's
 * now(), as on the staging path).
 */
async function copyDirect(sql: Sql, text: CopyText, expectedRows: number, options: WriteOptions) {
  return sql.begin(async (tx) => {
    const copy = tx`COPY transactions (${tx(copyColumns)}) FROM STDIN`.writable();
    // Throwing out of the callback makes sql.begin send ROLLBACK.
    await copyInto(copy, text, options.copyTimeoutMs ?? copyTimeoutMsDefault);
    await options.within?.(tx);
    return { inserted: expectedRows, duplicates: 0, path: "direct" as const, keyConflicts: 0 };
  });
}

/**
 * The careful way, from COPY text; `expectedRows` is the batch size the
 * staging table must hold. Exported for tests, which feed it lines no ConsumedTransaction
 * can produce.
 */
export async function writeStagingLines(
  sql: Sql,
  text: CopyText,
  expectedRows: number,
  options: WriteOptions = {},
): Promise<WriteResult> {
  return sql.begin(async (tx) => {
    // Text columns: COPY itself never rejects a value; the casts in the INSERT
    // below do, with a normal SQL error naming the value. Created once per
    // connection and emptied at each commit: no catalog churn per batch.
    await createStagingTable(tx);
    const copy = tx`COPY ${tx(stagingTable)} (${tx(copyColumns)}) FROM STDIN`.writable();
    await copyInto(copy, text, options.copyTimeoutMs ?? copyTimeoutMsDefault);

    // The staging count and the insert travel in one statement (one round
    // trip). ORDER BY id keeps the first copy of an id sent twice in one batch
    // (ON CONFLICT DO NOTHING skips the second) and makes concurrent workers
    // lock keys in the same order (no deadlock).
    const [result] = await tx<{ staged: number; inserted: number }[]>`
      WITH staged AS (SELECT count(*)::integer AS rows FROM txlog_staging),
      inserted AS (
        INSERT INTO transactions (${copyColumnList(tx)})
        SELECT ${stagingCasts(tx)}
        FROM ${tx(stagingTable)}
        ORDER BY transaction_id::uuid, kafka_partition::integer, kafka_offset::bigint
        ON CONFLICT (transaction_id) DO NOTHING
        RETURNING 1
      )
      SELECT (SELECT rows FROM staged) AS staged, (SELECT count(*)::integer FROM inserted) AS inserted`;
    // Thrown inside the transaction: a broken invariant rolls the batch back.
    if (result?.staged !== expectedRows) {
      throw new WriteInvariantError(`staging holds ${result?.staged} rows, the batch has ${expectedRows}`);
    }
    const inserted = { count: result.inserted };
    if (inserted.count < 0 || inserted.count > expectedRows) {
      throw new WriteInvariantError(`inserted ${inserted.count} rows from a batch of ${expectedRows}`);
    }
    const keyConflicts = inserted.count < expectedRows ? await recordKeyConflicts(tx) : 0;
    await options.within?.(tx);
    return {
      inserted: inserted.count,
      duplicates: expectedRows - inserted.count,
      path: "staging" as const,
      keyConflicts,
    };
  });
}

/**
 * True when PostgreSQL (or the encoder) refused the data itself: writing the
 * same rows again can never succeed. Anything else (connection lost, table
 * missing, deadlock, disk full) may pass on a retry.
 */
function isDataError(error: unknown): boolean {
  if (error instanceof CopyTextError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  // Class 22: data exception (bad value, out of range); 23: integrity constraint violation.
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

/**
 * Ids already stored with another transaction: two requests under one
 * Idempotency-Key in flight at once. The first stored wins; the other is
 * recorded as rejected, with both fingerprints, never silently dropped.
 */
async function recordKeyConflicts(tx: postgres.TransactionSql): Promise<number> {
  const conflicts = await keyConflicts(tx);
  await insertRejections(
    tx,
    conflicts.map((conflict) => {
      const refused = fingerprint(conflict.staged);
      const stored = fingerprint(conflict.stored);
      return {
        transactionId: conflict.transactionId,
        reason: "idempotency_key_reused",
        message: `its Idempotency-Key was already used for another transaction (stored fingerprint ${stored}, this one ${refused})`,
        errors: [],
        partition: conflict.partition,
        offset: conflict.offset,
        fingerprint: refused,
        storedFingerprint: stored,
        ...(conflict.apiKeyId === null ? {} : { apiKeyId: conflict.apiKeyId }),
      };
    }),
  );
  return conflicts.length;
}

export interface RejectedRow {
  row: ConsumedTransaction;
  /** PostgreSQL's message for the row. */
  reason: string;
  /** PostgreSQL's SQLSTATE for it; undefined when the encoder refused the row before PostgreSQL saw it. */
  sqlstate?: string;
}

export interface IsolateOptions extends WriteOptions {
  /**
   * Told of each refused row as soon as it stands alone; throwing from it
   * abandons the rest of the batch (the error reaches the caller as it is).
   */
  onRefused?(rejected: RejectedRow): void;
}

/** A SQLSTATE: five digits or capital letters. */
const sqlstatePattern = /^[0-9A-Z]{5}$/;

function refusedRow(row: ConsumedTransaction, error: unknown): RejectedRow {
  const code = (error as { code?: unknown } | null)?.code;
  const sqlstate = typeof code === "string" && sqlstatePattern.test(code) ? code : undefined;
  return { row, reason: errorText(error), sqlstate };
}

export interface IsolatedWriteResult extends WriteResult {
  /** Rows the database refused on their own; the rest are written. */
  rejected: RejectedRow[];
  /** True when the batch went in one transaction (options.within ran in it); false when it was isolated. */
  whole: boolean;
}

/**
 * writeBatch, but when the database refuses the data, halves the batch until
 * the refused rows stand alone, and writes everything else. One bad row costs
 * about 2·log2(n) extra transactions instead of stopping the partition. Errors
 * that are not about the data are thrown as they are (the caller retries).
 */
export async function writeBatchIsolating(
  sql: Sql,
  batch: ConsumedTransaction[] | EncodedRows,
  options: IsolateOptions = {},
): Promise<IsolatedWriteResult> {
  const encoded = Array.isArray(batch) ? encodeRows(batch) : batch;
  try {
    const result = await writeLines(sql, encoded.text, encoded.count, options);
    return { ...result, rejected: [], whole: true };
  } catch (error) {
    if (!isDataError(error)) throw error;
    // Named only now: a batch the database takes whole never decodes its rows.
    const rows = encoded.rows();
    if (rows.length !== encoded.count) {
      throw new WriteInvariantError(`${rows.length} rows decoded from a batch of ${encoded.count}`);
    }
    if (rows.length === 1) {
      const rejected = refusedRow(rows[0] as ConsumedTransaction, error);
      options.onRefused?.(rejected);
      return { inserted: 0, duplicates: 0, path: "staging", keyConflicts: 0, rejected: [rejected], whole: false };
    }
    // The halves go the careful way: the direct COPY would only fail again.
    // Work meant for the whole batch's transaction is the caller's to redo.
    const halves = { ...options, direct: false, within: undefined };
    const middle = Math.ceil(rows.length / 2);
    const first = await writeBatchIsolating(sql, rows.slice(0, middle), halves);
    const second = await writeBatchIsolating(sql, rows.slice(middle), halves);
    return {
      inserted: first.inserted + second.inserted,
      duplicates: first.duplicates + second.duplicates,
      path: "staging",
      keyConflicts: first.keyConflicts + second.keyConflicts,
      rejected: [...first.rejected, ...second.rejected],
      whole: false,
    };
  }
}
