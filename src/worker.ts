// `bun run worker`: consumes the transactions topic in a consumer group,
// writes batches to PostgreSQL, dead-letters what can never be written, and
// commits Kafka offsets only after both are done.
//
// Delivery: at least once into Kafka's view, exactly once into the table.
// Offsets are committed after the database commit, so a crash, a failed
// offset commit or a rebalance makes some messages arrive again; their rows
// are already there and the primary key (transaction_id, chosen by the API)
// turns the second write into "already present". Never the other way round:
// an offset is never committed past a message that is not written or
// dead-lettered.
//
// The stages live in src/pipeline/: the consume loop (consume-loop.ts) and
// the batch writer (batch-writer.ts). Tests call startWorker() in-process.

import { ensureTopics, txlogTopics } from "./kafka/admin.ts";
import {
  commitOffsets,
  consume,
  createConsumer,
  createProducer,
  type KafkaConnection,
  type KafkaConsumer,
  type KafkaProducer,
  type KafkaStream,
} from "./kafka/client.ts";
import { batchWriter, newWriteStats, type WriteStats } from "./pipeline/batch-writer.ts";
import { type ConsumeStats, newConsumeStats, startConsumeLoop } from "./pipeline/consume-loop.ts";
import { PartitionOwnership } from "./pipeline/ownership.ts";
import { databaseName, ensureDatabase, openDatabase, type Sql } from "./postgres/connection.ts";
import { migrate } from "./postgres/migrate.ts";
import type { Config } from "./runtime/config.ts";
import { errorText } from "./runtime/error-text.ts";
import { runProcess } from "./runtime/lifecycle.ts";
import { workerReadyLine } from "./runtime/log-lines.ts";

export { retryBackoffMsMin } from "./pipeline/batch-writer.ts";

export interface WorkerOptions {
  /** Where the per-batch lines go (default: console.log). */
  log?: (line: string) => void;
}

export type WorkerStats = ConsumeStats & WriteStats;

export interface WorkerHandle {
  readonly stats: Readonly<WorkerStats>;
  /** Settles when the worker has stopped and closed everything; rejects when it stopped on an error. */
  readonly done: Promise<void>;
  /** Finishes the batch in hand (unless its write keeps failing), commits, closes. */
  stop(): Promise<void>;
}

interface Opened {
  sql: Sql;
  producer: KafkaProducer;
  consumer: KafkaConsumer;
  stream: KafkaStream;
  ownership: PartitionOwnership;
}

export async function startWorker(config: Config, options: WorkerOptions = {}): Promise<WorkerHandle> {
  const log = options.log ?? ((line: string) => console.log(line));
  const opened = await open(config);
  const stats: WorkerStats = { ...newConsumeStats(), ...newWriteStats() };
  const loop = startConsumeLoop({
    stream: opened.stream,
    topic: config.topic,
    ownership: opened.ownership,
    limits: { rowsMax: config.batchRowsMax, bytesMax: config.batchBytesMax, lingerMs: config.batchLingerMs },
    writesInFlightMax: config.writesInFlightMax,
    handler: batchWriter({
      sql: opened.sql,
      producer: opened.producer,
      dlqTopic: config.dlqTopic,
      retryBackoffMsMax: config.retryBackoffMsMax,
      rssBytesSoftMax: config.workerRssBytesSoftMax,
      stats,
      log,
    }),
    commitOffsets: (offsets) => commitOffsets(opened.consumer, offsets),
    stats,
    log,
  });
  const done = loop.done.finally(() => close(opened, log));
  done.catch(() => {});
  return {
    stats,
    done,
    async stop() {
      await loop.stop();
      await done.catch(() => {});
    },
  };
}

/** The database (migrated), the topics, a producer for dead letters, and the group's message stream. */
async function open(config: Config): Promise<Opened> {
  const connection: KafkaConnection = {
    brokers: config.kafkaBrokers,
    clientId: config.kafkaClientId,
    timeoutMs: config.kafkaTimeoutMs,
  };
  await ensureDatabase(config.databaseUrl);
  // One connection per batch write in flight.
  const sql = openDatabase(config.databaseUrl, { poolMax: config.writesInFlightMax });
  const ownership = new PartitionOwnership();
  let producer: KafkaProducer | undefined;
  let consumer: KafkaConsumer | undefined;
  try {
    await migrate(sql);
    await ensureTopics(connection, txlogTopics(config));
    producer = createProducer(connection);
    // Fetches wait for WORKER_FETCH_BYTES_MIN: under a trickle of single
    // POSTs, a fetch answered at the first byte meant one fetch per produce
    // request, and each costs the broker about as much CPU as the produce.
    const groupConsumer = createConsumer(connection, {
      groupId: config.groupId,
      fetchBytesMin: config.workerFetchBytesMin,
      fetchWaitMsMax: config.workerFetchWaitMsMax,
    });
    consumer = groupConsumer;
    // Registered before consume(): the first join happens inside it.
    groupConsumer.on("consumer:group:join", () => {
      const assigned = (groupConsumer.assignments ?? []).filter((a) => a.topic === config.topic);
      ownership.assign(
        groupConsumer.generationId,
        assigned.flatMap((a) => a.partitions),
      );
    });
    const stream = await consume(groupConsumer, [config.topic]);
    return { sql, producer, consumer: groupConsumer, stream, ownership };
  } catch (error) {
    await consumer?.close(true).catch(() => {});
    await producer?.close().catch(() => {});
    await sql.end();
    throw error;
  }
}

async function close({ stream, consumer, producer, sql }: Opened, log: (line: string) => void): Promise<void> {
  const steps: Array<[string, () => Promise<unknown>]> = [
    ["close the messages stream", () => stream.close()],
    ["leave the consumer group", () => consumer.close()],
    ["close the producer", () => producer.close()],
    ["close the database pool", () => sql.end({ timeout: 5 })],
  ];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (error) {
      log(`could not ${what}: ${errorText(error)}`);
    }
  }
}

if (import.meta.main) {
  await runProcess({
    name: "worker",
    start: (config) => startWorker(config),
    startedLine: (_, config) => workerReadyLine(config.topic, config.groupId, databaseName(config.databaseUrl)),
  });
}
