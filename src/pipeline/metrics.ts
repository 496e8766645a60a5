// The worker's metrics (GET /metrics on WORKER_PORT, Prometheus text): rows
// written, batch write latency, rejections by reason, dead letters, retries,
// failed writes by SQLSTATE, and per partition the committed offset and the
// lag. Everything is counted once per batch or per poll, never per row.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { PartitionProgress } from "../kafka/client.ts";
import { latencySecondsBuckets, processRegistry } from "../runtime/metrics.ts";
import type { IsolatedWriteResult } from "./copy-writer.ts";

/** A SQLSTATE (five digits or capital letters), or a client error code such as ECONNREFUSED. */
const errorCodePattern = /^(?:[0-9A-Z]{5}|[A-Z][A-Z_]{1,39})$/;

/** The label of a failed write: its SQLSTATE, the client's code when PostgreSQL was not reached, else "other". */
export function writeErrorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && errorCodePattern.test(code) ? code : "other";
}

export interface CommittedBatch {
  result: IsolatedWriteResult;
  /** Rejections of messages that broke the transaction rules (invalid_message). */
  invalid: number;
  deadLettered: number;
  writeSeconds: number;
}

export class WorkerMetrics {
  readonly registry: Registry = processRegistry();
  readonly #rowsWritten = new Counter({
    name: "txlog_worker_rows_written_total",
    help: "Rows added to transactions, counted once their batch's offsets are committed",
    registers: [this.registry],
  });
  readonly #rowsPresent = new Counter({
    name: "txlog_worker_rows_present_total",
    help: "Rows read again whose transaction was already stored (a redelivery absorbed, not written twice)",
    registers: [this.registry],
  });
  readonly #writeSeconds = new Histogram({
    name: "txlog_worker_batch_write_seconds",
    help: "Time to write a batch to PostgreSQL (retries, rejections and dead letters included), by path (direct COPY or staging)",
    labelNames: ["path"],
    buckets: latencySecondsBuckets,
    registers: [this.registry],
  });
  readonly #rejections = new Counter({
    name: "txlog_worker_rejections_total",
    help: "Transactions recorded Rejected, by reason (invalid_message, database_refused, idempotency_key_reused)",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly #deadLetters = new Counter({
    name: "txlog_worker_dead_letters_total",
    help: "Messages sent to the dead-letter topic",
    registers: [this.registry],
  });
  readonly #retries = new Counter({
    name: "txlog_worker_retries_total",
    help: "Failed attempts retried, by step (database write, rejection record, dead-letter produce)",
    labelNames: ["step"],
    registers: [this.registry],
  });
  readonly #writeErrors = new Counter({
    name: "txlog_worker_write_errors_total",
    help: "Failed attempts to write to PostgreSQL, by SQLSTATE (or the client's error code when PostgreSQL was not reached)",
    labelNames: ["sqlstate"],
    registers: [this.registry],
  });
  readonly #committedOffset = new Gauge({
    name: "txlog_worker_committed_offset",
    help: "The group's committed offset (next to read) of each partition this worker owns, as of the last lag poll",
    labelNames: ["partition"],
    registers: [this.registry],
  });
  readonly #lag = new Gauge({
    name: "txlog_worker_consumer_lag_messages",
    help: "Messages not yet committed on each partition this worker owns (end offset − committed offset), as of the last lag poll",
    labelNames: ["partition"],
    registers: [this.registry],
  });

  /** A batch written and its offsets committed. */
  batchCommitted({ result, invalid, deadLettered, writeSeconds }: CommittedBatch): void {
    this.#rowsWritten.inc(result.inserted);
    this.#rowsPresent.inc(result.duplicates - result.keyConflicts);
    this.#writeSeconds.labels(result.path).observe(writeSeconds);
    if (invalid > 0) this.#rejections.labels("invalid_message").inc(invalid);
    if (result.rejected.length > 0) this.#rejections.labels("database_refused").inc(result.rejected.length);
    if (result.keyConflicts > 0) this.#rejections.labels("idempotency_key_reused").inc(result.keyConflicts);
    if (deadLettered > 0) this.#deadLetters.inc(deadLettered);
  }

  /** A step failed and is retried; `postgres`: it was a write to PostgreSQL. */
  retried(step: string, error: unknown, postgres: boolean): void {
    this.#retries.labels(step).inc();
    if (postgres) this.#writeErrors.labels(writeErrorCode(error)).inc();
  }

  /** The partitions owned now, with their offsets (none: no consumer, or none assigned). */
  progress(partitions: PartitionProgress[]): void {
    // Reset and set in one synchronous step: a scrape sees the old set or the new, and no partition lost meanwhile.
    this.#committedOffset.reset();
    this.#lag.reset();
    for (const { partition, committed, end } of partitions) {
      this.#committedOffset.labels(String(partition)).set(Number(committed));
      this.#lag.labels(String(partition)).set(Math.max(0, Number(end - committed)));
    }
  }
}
