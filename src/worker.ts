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
import { createProducer, type KafkaConnection, produceRecordBytesMax } from "./kafka/client.ts";
import { batchWriter, newWriteStats, type WriteStats } from "./pipeline/batch-writer.ts";
import { newConsumeStats } from "./pipeline/consume-loop.ts";
import { runConsumerSessions, type SessionStats } from "./pipeline/consumer-sessions.ts";
import { startStatusServer } from "./pipeline/status-server.ts";
import { WorkerStatus, type WorkerStatusSnapshot } from "./pipeline/worker-status.ts";
import { databaseName } from "./postgres/connection.ts";
import { openProcessDatabase } from "./postgres/process-database.ts";
import type { Config } from "./runtime/config.ts";
import { errorText } from "./runtime/error-text.ts";
import { runProcess } from "./runtime/lifecycle.ts";
import { workerReadyLine } from "./runtime/log-lines.ts";

export interface WorkerOptions {
  /** Where the per-batch and status lines go (default: console.log). */
  log?: (line: string) => void;
}

export type WorkerStats = SessionStats & WriteStats;

export interface WorkerHandle {
  readonly stats: Readonly<WorkerStats>;
  /** connecting, running, degraded (Kafka or PostgreSQL does not answer; it keeps trying), stopping, stopped. */
  status(): WorkerStatusSnapshot;
  /** Port of its /health and /ready. */
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
  const log = options.log ?? ((line: string) => console.log(line));
  const connection: KafkaConnection = {
    brokers: config.kafkaBrokers,
    clientId: config.kafkaClientId,
    timeoutMs: config.kafkaTimeoutMs,
  };
  // One connection per batch write in flight, as DATABASE_WORKER_URL's role.
  const sql = await openProcessDatabase(config, "worker", { poolMax: config.writesInFlightMax }, (line) =>
    log(`worker: warning: ${line}`),
  );
  // For dead letters; it connects on its first send and reconnects by itself.
  const producer = createProducer(connection);
  const status = new WorkerStatus(log);
  const stats: WorkerStats = { ...newConsumeStats(), kafkaFailures: 0, ...newWriteStats() };
  const writer = batchWriter({
    sql,
    producer,
    dlqTopic: config.dlqTopic,
    dlqRecordBytesMax: produceRecordBytesMax(config.messageBytesMax),
    retryBackoffMsMax: config.retryBackoffMsMax,
    rssBytesSoftMax: config.workerRssBytesSoftMax,
    stats,
    status,
    log,
  });
  const statusServer = startStatusServer(status, config.host, config.workerPort);
  const sessions = runConsumerSessions({ config, connection, writer, status, stats, log });
  const done = sessions.done.finally(async () => {
    for (const [what, step] of [
      ["close the status port", () => statusServer.stop()],
      ["close the producer", () => producer.close()],
      ["close the database pool", () => sql.end({ timeout: 5 })],
    ] as Array<[string, () => Promise<unknown>]>) {
      await step().catch((error: unknown) => log(`could not ${what}: ${errorText(error)}`));
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
    start: (config) => startWorker(config),
    startedLine: (worker, config) =>
      `${workerReadyLine(config.topic, config.groupId, databaseName(config.databaseUrl))} (${worker.status().state}); /ready on port ${worker.statusPort}`,
  });
}
