// `bun run worker`: consumes the transactions topic in a consumer group,
// writes batches to PostgreSQL, dead-letters what can never be written, and
// commits Kafka offsets only after both are done.
//
// Delivery: at least once into Kafka's view, exactly once into the table.
// Offsets are committed after the database commit, so a crash, a failed
// offset commit, a rebalance or a new consumer after a broker outage makes
// some messages arrive again; their rows are already there and the primary
// key (transaction_id, chosen by the API) turns the second write into
// "already present". Never the other way round: an offset is never committed
// past a message that is not written or dead-lettered.
//
// The stages live in src/pipeline/: consumer sessions (a new consumer after a
// broker outage), the consume loop and the batch writer. Tests call
// startWorker() in-process.
import { createProducer, produceRecordBytesMax } from "./kafka/client.ts";
import { kafkaConnection } from "./kafka/connection.ts";
import { batchWriter, newWriteStats, type WriteStats } from "./pipeline/batch-writer.ts";
import { newConsumeStats } from "./pipeline/consume-loop.ts";
import { runConsumerSessions, type SessionStats } from "./pipeline/consumer-sessions.ts";
import { WorkerMetrics } from "./pipeline/metrics.ts";
import { startStatusServer } from "./pipeline/status-server.ts";
import { WorkerStatus, type WorkerStatusSnapshot } from "./pipeline/worker-status.ts";
import { databaseName } from "./postgres/connection.ts";
import { openProcessDatabase } from "./postgres/process-database.ts";
import type { Config } from "./runtime/config.ts";
import { errorText } from "./runtime/error-text.ts";
import { runProcess } from "./runtime/lifecycle.ts";
import { logWorkerReady } from "./runtime/log-lines.ts";
import { type Logger, roleLogger } from "./runtime/logger.ts";

export interface WorkerOptions {
  /** Where the per-batch and status lines go (default: the process's logger, role worker). */
  log?: Logger;
}

export type WorkerStats = SessionStats & WriteStats;

export interface WorkerHandle {
  readonly stats: Readonly<WorkerStats>;
  /** connecting, running, degraded (Kafka or PostgreSQL does not answer; it keeps trying), stopping, stopped. */
  status(): WorkerStatusSnapshot;
  /** Port of its /health, /ready and /metrics. */
  readonly statusPort: number;
  /** Settles when the worker has stopped and closed everything; rejects when it stopped on an error. */
  readonly done: Promise<void>;
  /** Finishes the batch in hand (unless its write keeps failing), commits, closes. */
  stop(): Promise<void>;
}

/**
 * Opens the database (created and migrated when needed) and starts consuming.
 * Resolves once the first consumer joined its group, or its first attempt
 * failed: the worker then goes on trying, degraded, until Kafka answers.
 */
export async function startWorker(config: Config, options: WorkerOptions = {}): Promise<WorkerHandle> {
  const log = options.log ?? roleLogger("worker");
  const connection = kafkaConnection(config);
  // One connection per batch write in flight, as DATABASE_WORKER_URL's role.
  const sql = await openProcessDatabase(config, "worker", { poolMax: config.writesInFlightMax }, (line) =>
    log.warn(`worker: warning: ${line}`),
  );
  // For dead letters; it connects on its first send and reconnects by itself.
  const producer = createProducer(connection);
  const status = new WorkerStatus(log);
  const metrics = new WorkerMetrics();
  const stats: WorkerStats = { ...newConsumeStats(), kafkaFailures: 0, ...newWriteStats() };
  const writer = batchWriter({
    sql,
    producer,
    dlqTopic: config.dlqTopic,
    dlqRecordBytesMax: produceRecordBytesMax(config.messageBytesMax),
    retryBackoffMsMax: config.retryBackoffMsMax,
    episodeSummaryMs: config.logEpisodeSummaryMs,
    rssBytesSoftMax: config.workerRssBytesSoftMax,
    stats,
    status,
    metrics,
    log,
  });
  const statusServer = startStatusServer({
    status,
    limits: { lagMessagesMax: config.workerReadyLagMax, writeAgeMsMax: config.workerReadyWriteAgeMsMax },
    registry: metrics.registry,
    hostname: config.host,
    port: config.workerPort,
  });
  const sessions = runConsumerSessions({ config, connection, writer, status, stats, metrics, log });
  const done = sessions.done.finally(async () => {
    for (const [what, step] of [
      ["close the status port", () => statusServer.stop()],
      ["close the producer", () => producer.close()],
      ["close the database pool", () => sql.end({ timeout: 5 })],
    ] as Array<[string, () => Promise<unknown>]>) {
      await step().catch((error: unknown) => log.warn(`could not ${what}: ${errorText(error)}`));
    }
    status.stopped();
  });
  done.catch(() => {});
  await sessions.started;
  return {
    stats,
    status: () => status.snapshot(),
    statusPort: statusServer.port,
    done,
    async stop() {
      status.stopping();
      await sessions.stop();
      await done.catch(() => {});
    },
  };
}

if (import.meta.main) {
  await runProcess({
    name: "worker",
    role: "worker",
    start: (config) => startWorker(config),
    logStarted: (log, worker, config) =>
      logWorkerReady(log, {
        topic: config.topic,
        groupId: config.groupId,
        database: databaseName(config.databaseUrl),
        state: worker.status().state,
        statusPort: worker.statusPort,
      }),
  });
}
