// The worker's BatchHandler: prepares a batch of Kafka messages as COPY text
// (batch-preparer.ts), writes it to PostgreSQL in one transaction
// (copy-writer.ts, which isolates rows the database refuses), and
// dead-letters what can never be written, retrying what may pass later. The consume loop commits the
// batch's offsets only after this resolves.
import type { TransactionSql } from "postgres";
import { type KafkaMessage, type KafkaProducer, produceRefusal } from "../kafka/client.ts";
import type { Sql } from "../postgres/connection.ts";
import { insertRejections, type Rejection } from "../postgres/rejections.ts";
import { Episodes } from "../runtime/episodes.ts";
import { errorText } from "../runtime/error-text.ts";
import { logCommitted, logReceived } from "../runtime/log-lines.ts";
import type { Logger } from "../runtime/logger.ts";
import { type PreparedBatch, prepareBatch } from "./batch-preparer.ts";
import { type Batch, BatchLimitError } from "./batcher.ts";
import type { BatchHandler } from "./consume-loop.ts";
import { type IsolatedWriteResult, type RejectedRow, WriteInvariantError, writeBatchIsolating } from "./copy-writer.ts";
import { DeadLetterRefusedError, deadLetterRequests, sendDeadLetters } from "./dead-letters.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { OwnershipError } from "./ownership.ts";
import { RefusalWatch, SystematicRefusalError } from "./refusal-watch.ts";
import { retrying } from "./retry.ts";
import type { Dependency, WorkerStatus } from "./worker-status.ts";

/** First wait before retrying a failed write, milliseconds; doubles up to retryBackoffMsMax. */
export const retryBackoffMsMin = 100;

/**
 * Tries of a dead-letter produce that Kafka refuses for its records
 * (produceRefusal) before the worker stops, tries. More than one, so that a
 * topic setting being corrected at that moment can still pass; few, since
 * the same bytes are refused the same way every time.
 */
export const deadLetterRefusedTriesMax = 3;

export interface WriteStats {
  inserted: number;
  /** Rows whose id was already stored. */
  duplicates: number;
  deadLettered: number;
  /** Failed attempts of a database write or a dead-letter produce. */
  retries: number;
}

export interface BatchWriterOptions {
  sql: Sql;
  producer: KafkaProducer;
  dlqTopic: string;
  /** Record bytes one dead-letter produce request may carry (produceRecordBytesMax of KAFKA_MESSAGE_BYTES_MAX). */
  dlqRecordBytesMax: number;
  retryBackoffMsMax: number;
  /** Resident memory past which a full garbage collection runs after a batch, bytes. */
  rssBytesSoftMax: number;
  stats: WriteStats;
  /** Told when PostgreSQL or Kafka fails a step, and of every batch written. */
  status: WorkerStatus;
  log: Logger;
  /** Longest time between summary lines of a failing step, milliseconds. */
  episodeSummaryMs: number;
  /** Told of each batch committed and each retry (undefined: not measured). */
  metrics?: WorkerMetrics;
}

export interface WrittenBatch {
  result: IsolatedWriteResult;
  /** Dead letters of the batch: undecodable messages and rows the database refused. */
  deadLettered: number;
  startedMs: number;
  writeMs: number;
}

/**
 * Errors that mean txlog itself, or what it writes to, is wrong: stop loudly,
 * never retry or skip (the batch's offsets stay uncommitted).
 */
export function isInvariantError(error: unknown): boolean {
  return (
    error instanceof WriteInvariantError ||
    error instanceof BatchLimitError ||
    error instanceof OwnershipError ||
    error instanceof SystematicRefusalError ||
    error instanceof DeadLetterRefusedError
  );
}

/**
 * For one batch's dead-letter produce: after deadLetterRefusedTriesMax
 * refusals in a row, the error that stops the worker (any other failure, say
 * a broker away, starts the count again).
 */
function deadLetterGiveUp(): (error: unknown) => Error | undefined {
  let refusals = 0;
  return (error) => {
    const refusal = produceRefusal(error);
    refusals = refusal === undefined ? 0 : refusals + 1;
    if (refusal === undefined || refusals < deadLetterRefusedTriesMax) return undefined;
    return new DeadLetterRefusedError(refusal, refusals, error);
  };
}

export function newWriteStats(): WriteStats {
  return { inserted: 0, duplicates: 0, deadLettered: 0, retries: 0 };
}

export interface BatchWriter extends BatchHandler<PreparedBatch, WrittenBatch> {
  /** What comes next is read again from committed offsets (a new consumer): expect ids already stored. */
  expectRedelivery(): void;
}

export function batchWriter(options: BatchWriterOptions): BatchWriter {
  // COPY straight into transactions unless the last batch held ids already
  // stored: a redelivered backlog (after a crash or rebalance) goes the
  // staging way until a batch comes through with no duplicate.
  let directCopy = true;
  const refusals = new RefusalWatch();

  // One episode per step: a PostgreSQL or Kafka outage is a line when it
  // starts, a summary now and then, a line when it ends; each attempt is debug.
  const episodes = new Episodes({ log: options.log, summaryMs: options.episodeSummaryMs });

  async function retry<T>(
    what: string,
    dependency: Dependency,
    attempt: () => Promise<T>,
    signal: AbortSignal,
    giveUp?: (error: unknown, failures: number) => Error | undefined,
  ): Promise<T | undefined> {
    const result = await retrying(attempt, {
      backoffMsMin: retryBackoffMsMin,
      backoffMsMax: options.retryBackoffMsMax,
      signal,
      isFatal: isInvariantError,
      giveUp,
      onFailure(failures, waitMs, error) {
        options.stats.retries++;
        options.metrics?.retried(what.replace(/[ -]/g, "_"), error, dependency === "postgres");
        const cause = errorText(error);
        options.status.failing(dependency, `${what} failed, retrying: ${cause}`);
        episodes.of(what).failed(cause);
        options.log.debug(
          { attempt: failures, waitMs, cause },
          `${what} failed (attempt ${failures}), retrying in ${waitMs} ms: ${cause}`,
        );
      },
    });
    if (result !== undefined) {
      episodes.of(what).succeeded();
      return result;
    }
    // Nothing of this batch is committed: whoever owns the partition next reads it again.
    options.log.warn(`${what}: stopping with the batch unwritten; its offsets stay uncommitted`);
    return undefined;
  }

  return {
    prepare: prepareBatch,
    expectRedelivery() {
      directCopy = false;
    },
    async write(prepared, signal) {
      const { batch, rows, letters, rejections } = prepared;
      logBatchReceived(batch, options.log);
      const startedMs = Date.now();
      const batchRefusals = refusals.begin(rows.count);
      const onRefused = ({ sqlstate, reason }: RejectedRow) => {
        if (sqlstate !== undefined) batchRefusals.refused(sqlstate, reason);
      };
      // The rejections go in the batch's own transaction: a row and a status
      // commit together, and both before the offsets move.
      const within = rejections.length === 0 ? undefined : (tx: TransactionSql) => insertRejections(tx, rejections);
      const result = await retry(
        "database write",
        "postgres",
        () => {
          batchRefusals.restart();
          return writeBatchIsolating(options.sql, rows, { direct: directCopy, onRefused, within });
        },
        signal,
      );
      if (result === undefined) return undefined;
      directCopy = result.duplicates === 0;
      for (const { row, reason } of result.rejected) {
        letters.push({ message: prepared.sourceOf(row), reason: `database refused: ${reason}` });
      }
      if (!result.whole) {
        // Isolated row by row: the statuses go in one transaction of their own, still before the offsets move.
        const all = [...rejections, ...result.rejected.map(refusedRejection)];
        const recorded = await retry("rejection record", "postgres", () => recordRejections(options.sql, all), signal);
        if (recorded === undefined) return undefined;
      }
      if (letters.length > 0) {
        const pending = deadLetterRequests(options.dlqTopic, letters, options.dlqRecordBytesMax);
        const produced = await retry(
          "dead-letter produce",
          "kafka",
          async () => {
            await sendDeadLetters(options.producer, pending);
            return true;
          },
          signal,
          deadLetterGiveUp(),
        );
        if (produced === undefined) return undefined;
      }
      return { result, deadLettered: letters.length, startedMs, writeMs: Date.now() - startedMs };
    },
    committed(prepared, { result, deadLettered, startedMs, writeMs }) {
      // A deep backlog allocates fast and the heap grows well past what is
      // live: nudge the collector each batch, and collect fully only past the
      // soft memory limit (a full collection per batch costs throughput).
      Bun.gc(process.memoryUsage.rss() > options.rssBytesSoftMax);
      options.status.wrote();
      options.stats.inserted += result.inserted;
      options.stats.duplicates += result.duplicates;
      options.stats.deadLettered += deadLettered;
      const invalid = prepared.rejections.length;
      options.metrics?.batchCommitted({ result, invalid, deadLettered, writeSeconds: writeMs / 1000 });
      logCommitted(options.log, {
        inserted: result.inserted,
        alreadyPresent: result.duplicates,
        deadLettered,
        writeMs: Date.now() - startedMs,
        path: result.path,
      });
    },
  };
}

function refusedRejection({ row, reason }: RejectedRow): Rejection {
  return {
    transactionId: row.transaction.transactionId,
    reason: "database_refused",
    message: reason,
    errors: [],
    partition: row.partition,
    offset: row.offset,
    apiKeyId: row.transaction.apiKeyId,
  };
}

async function recordRejections(sql: Sql, rejections: Rejection[]): Promise<true> {
  await sql.begin((tx) => insertRejections(tx, rejections));
  return true;
}

function logBatchReceived(batch: Batch<KafkaMessage>, log: Logger): void {
  const partitions = [...new Set(batch.items.map((m) => m.partition))].sort((a, b) => a - b);
  logReceived(log, {
    messages: batch.items.length,
    bytes: batch.bytes,
    partitions,
    fillMs: batch.closedAtMs - batch.openedAtMs,
  });
}
