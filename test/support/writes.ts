// Test-only helpers around the batch writer.
import { type WriteOptions, type WriteResult, writeLines } from "../../src/pipeline/copy-writer.ts";
import type { Sql } from "../../src/postgres/connection.ts";
import { type ConsumedTransaction, copyLine } from "../../src/postgres/stored-row.ts";

/**
 * Writes `rows` in one PostgreSQL transaction and returns how many were new.
 * Throws (and writes nothing) when any row is refused, where the worker's
 * writeBatchIsolating finds which.
 */
export function writeBatch(sql: Sql, rows: ConsumedTransaction[], options: WriteOptions = {}): Promise<WriteResult> {
  return writeLines(sql, rows.map(copyLine), rows.length, options);
}
