// What `bun run dlq` reads and writes in PostgreSQL: the rejections (one per
// Kafka message the worker could never write), whether their id is stored
// since, the replays recorded for them (sql/006_dlq_replays.sql), and the
// audit row of each new replay.
import type { FieldError } from "../transaction/rules.ts";
import type { Sql } from "./connection.ts";

export interface DeadLetterFilter {
  reason?: string;
  /** Transaction ids; empty or undefined: any. */
  ids?: string[];
  limit: number;
}

export interface LastReplay {
  replayedBy: string;
  replayedAt: string;
  targetPartition: number;
  targetOffset: string;
}

/** One rejected message, as the operator sees it. */
export interface RejectedMessage {
  transactionId: string;
  reason: string;
  message: string;
  errors: FieldError[];
  rejectedAt: string;
  partition: number;
  offset: string;
  /** The id has a row in transactions now (a replay was stored, or a reused key's winner). */
  stored: boolean;
  lastReplay: LastReplay | null;
}

interface Row {
  transaction_id: string;
  reason: string;
  message: string;
  errors: FieldError[];
  rejected_at: Date;
  kafka_partition: number;
  kafka_offset: string;
  stored: boolean;
  replayed_by: string | null;
  replayed_at: Date | null;
  target_partition: number | null;
  target_offset: string | null;
}

function toRejectedMessage(row: Row): RejectedMessage {
  return {
    transactionId: row.transaction_id,
    reason: row.reason,
    message: row.message,
    errors: row.errors,
    rejectedAt: row.rejected_at.toISOString(),
    partition: row.kafka_partition,
    offset: String(row.kafka_offset),
    stored: row.stored,
    lastReplay:
      row.replayed_by === null
        ? null
        : {
            replayedBy: row.replayed_by,
            replayedAt: (row.replayed_at as Date).toISOString(),
            targetPartition: row.target_partition as number,
            targetOffset: String(row.target_offset),
          },
  };
}

function where(sql: Sql, filter: DeadLetterFilter) {
  const conditions = [sql`TRUE`];
  if (filter.reason !== undefined) conditions.push(sql`r.reason = ${filter.reason}`);
  if (filter.ids !== undefined && filter.ids.length > 0)
    conditions.push(sql`r.transaction_id = ANY(${filter.ids}::uuid[])`);
  return conditions.reduce((all, condition) => sql`${all} AND ${condition}`);
}

/** Rejected messages newest first, each with its id's stored state and latest replay. */
export async function listRejectedMessages(sql: Sql, filter: DeadLetterFilter): Promise<RejectedMessage[]> {
  const rows = await sql<Row[]>`
    SELECT r.transaction_id, r.reason, r.message, r.errors, r.rejected_at, r.kafka_partition, r.kafka_offset,
           EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = r.transaction_id) AS stored,
           p.replayed_by, p.replayed_at, p.target_partition, p.target_offset
    FROM rejections r
    LEFT JOIN LATERAL (
      SELECT replayed_by, replayed_at, target_partition, target_offset FROM dlq_replays d
      WHERE d.transaction_id = r.transaction_id ORDER BY replayed_at DESC, replay_id DESC LIMIT 1
    ) p ON TRUE
    WHERE ${where(sql, filter)}
    ORDER BY r.rejected_at DESC, r.kafka_partition DESC, r.kafka_offset DESC
    LIMIT ${filter.limit}`;
  return rows.map(toRejectedMessage);
}

/**
 * The latest rejected message of each chosen id, newest first: what a replay
 * re-submits. A message rejected again after a replay is the latest, so a
 * replay whose fix did not hold can be replayed once more.
 */
export async function latestRejectedMessages(sql: Sql, filter: DeadLetterFilter): Promise<RejectedMessage[]> {
  const rows = await sql<Row[]>`
    SELECT * FROM (
      SELECT DISTINCT ON (r.transaction_id)
             r.transaction_id, r.reason, r.message, r.errors, r.rejected_at, r.kafka_partition, r.kafka_offset,
             EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = r.transaction_id) AS stored,
             p.replayed_by, p.replayed_at, p.target_partition, p.target_offset
      FROM rejections r
      LEFT JOIN LATERAL (
        SELECT replayed_by, replayed_at, target_partition, target_offset FROM dlq_replays d
        WHERE d.transaction_id = r.transaction_id ORDER BY replayed_at DESC, replay_id DESC LIMIT 1
      ) p ON TRUE
      WHERE ${where(sql, filter)}
      ORDER BY r.transaction_id, r.rejected_at DESC, r.kafka_partition DESC, r.kafka_offset DESC
    ) latest
    ORDER BY rejected_at DESC, kafka_partition DESC, kafka_offset DESC
    LIMIT ${filter.limit}`;
  return rows.map(toRejectedMessage);
}

export interface ReplayRecord {
  replayedBy: string;
  transactionId: string;
  sourcePartition: number;
  sourceOffset: string;
  reason: string;
  targetTopic: string;
  targetPartition: number;
  targetOffset: string;
}

export async function recordReplay(sql: Sql, record: ReplayRecord): Promise<void> {
  await sql`
    INSERT INTO dlq_replays (replayed_by, transaction_id, source_partition, source_offset, reason,
                             target_topic, target_partition, target_offset)
    VALUES (${record.replayedBy}, ${record.transactionId}, ${record.sourcePartition}, ${record.sourceOffset},
            ${record.reason}, ${record.targetTopic}, ${record.targetPartition}, ${record.targetOffset})`;
}

/** Whether the id has a row in transactions. */
export async function isStored(sql: Sql, transactionId: string): Promise<boolean> {
  const rows = await sql`SELECT 1 FROM transactions WHERE transaction_id = ${transactionId}`;
  return rows.length > 0;
}
