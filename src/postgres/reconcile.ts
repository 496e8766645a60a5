// The proof that accepted = stored + rejected: the Kafka log's positions and
// ids are COPYed into a temporary table and judged against transactions and
// rejections in one set query (an anti-join), not a query per message.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Sql } from "./connection.ts";

export interface LoggedMessage {
  partition: number;
  offset: bigint;
  /** Undefined when the value carries no readable id (not written by txlog's API). */
  transactionId: string | undefined;
}

export interface PartitionReport {
  partition: number;
  messages: number;
  stored: number;
  rejected: number;
  /** Later copies of an id already in the log (redeliveries, keyed retries): one row or status absorbs them. */
  duplicates: number;
  /** Messages without a readable id: no client got a 202 for them; dead-lettered only. */
  foreign: number;
  /** Messages whose id is neither stored nor rejected. */
  gaps: number;
}

export interface Gap {
  partition: number;
  offset: string;
  transactionId: string;
}

export interface Reconciliation {
  partitions: PartitionReport[];
  /** The first gaps, in log order. */
  firstGaps: Gap[];
  ok: boolean;
}

/** Lines per write to the COPY stream. */
const copyChunkLines = 10_000;

export async function reconcileLog(sql: Sql, messages: LoggedMessage[], firstGapsMax: number): Promise<Reconciliation> {
  return sql.begin(async (tx) => {
    await tx`CREATE TEMP TABLE reconcile_log (
      kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL, transaction_id uuid
    ) ON COMMIT DROP`;
    const copy = await tx`COPY reconcile_log (kafka_partition, kafka_offset, transaction_id) FROM STDIN`.writable();
    await pipeline(Readable.from(copyChunks(messages)), copy);
    // Statistics first, so the planner joins the log to the tables as sets (hash or merge joins).
    await tx`ANALYZE reconcile_log`;
    // Both tables are keyed by transaction_id: a left join finds at most one row in each.
    await tx`CREATE TEMP TABLE reconcile_judged ON COMMIT DROP AS
      SELECT l.kafka_partition, l.kafka_offset, l.transaction_id,
             row_number() OVER (PARTITION BY l.transaction_id ORDER BY l.kafka_partition, l.kafka_offset) AS nth,
             t.transaction_id IS NOT NULL AS stored,
             r.transaction_id IS NOT NULL AS rejected
      FROM reconcile_log l
      LEFT JOIN transactions t ON t.transaction_id = l.transaction_id
      LEFT JOIN (SELECT DISTINCT transaction_id FROM rejections) r ON r.transaction_id = l.transaction_id`;
    const rows = await tx<Record<string, number>[]>`
      SELECT kafka_partition AS partition,
             count(*)::int AS messages,
             count(*) FILTER (WHERE transaction_id IS NOT NULL AND nth = 1 AND stored)::int AS stored,
             count(*) FILTER (WHERE transaction_id IS NOT NULL AND nth = 1 AND rejected AND NOT stored)::int AS rejected,
             count(*) FILTER (WHERE transaction_id IS NOT NULL AND nth > 1)::int AS duplicates,
             count(*) FILTER (WHERE transaction_id IS NULL)::int AS foreign,
             count(*) FILTER (WHERE transaction_id IS NOT NULL AND NOT stored AND NOT rejected)::int AS gaps
      FROM reconcile_judged GROUP BY kafka_partition ORDER BY kafka_partition`;
    const firstGaps = await tx<Gap[]>`
      SELECT kafka_partition AS partition, kafka_offset::text AS offset, transaction_id::text AS "transactionId"
      FROM reconcile_judged
      WHERE transaction_id IS NOT NULL AND NOT stored AND NOT rejected
      ORDER BY kafka_partition, kafka_offset
      LIMIT ${firstGapsMax}`;
    const partitions = rows as unknown as PartitionReport[];
    return { partitions, firstGaps: [...firstGaps], ok: partitions.every((p) => p.gaps === 0) };
  });
}

function* copyChunks(messages: LoggedMessage[]): Generator<string> {
  for (let i = 0; i < messages.length; i += copyChunkLines) {
    let chunk = "";
    for (const m of messages.slice(i, i + copyChunkLines)) {
      chunk += `${m.partition}\t${m.offset}\t${m.transactionId ?? "\\N"}\n`;
    }
    yield chunk;
  }
}
