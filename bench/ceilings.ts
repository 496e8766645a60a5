// The ceilings every pipeline figure is divided by, measured in the same run
// on the same rows:
//   copy  - one COPY of the rows straight into a table with the columns and
//           indexes of transactions (what PostgreSQL can take at best);
//   kafka - produce the messages the API would produce, then consume them,
//           with the same client (kafka.ts) and no database;
//   http  - bench/bare-api.ts (Elysia answering 202, nothing behind it) under
//           the same load generator.
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { freePort } from "../scripts/broker.ts";
import {
  consume,
  createConsumer,
  createProducer,
  type KafkaConnection,
  type KafkaProducer,
  type OutgoingMessage,
  produce,
} from "../src/kafka/client.ts";
import { ensureTopics } from "../src/kafka/topics.ts";
import type { Sql } from "../src/postgres/connection.ts";
import { copyRow } from "../src/postgres/copy-text.ts";
import { copyColumns } from "../src/postgres/stored-row.ts";
import { newTransactionId } from "../src/transaction/ids.ts";
import { encodeMessage } from "../src/transaction/message.ts";
import { answers, startChild, waitUntilReady } from "./children.ts";
import { type LoadResult, percentiles, runLoad } from "./load.ts";
import { samplePostgresCpu } from "./phase-cpu.ts";
import { groupCpuDelta, sampleProcess } from "./procstat.ts";
import { acceptedNow, type Bodies, chunks, type RowSource } from "./rows.ts";

export interface Rate {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
}

export function rate(rows: number, seconds: number): Rate {
  return { rows, seconds, rowsPerSecond: seconds > 0 ? rows / seconds : 0 };
}

// --- copy -------------------------------------------------------------------

/** Name of the scratch table of the copy ceiling (dropped after). */
export const copyCeilingTable = "bench_copy_ceiling";

/**
 * COPY text of the rows into `file` (not timed), then one timed COPY of the
 * file into a fresh table LIKE transactions INCLUDING ALL (primary key,
 * indexes, checks, defaults). Ids are new UUIDv7s, as the API would choose.
 */
/** The COPY ceiling: its rate and what PostgreSQL spent on it (the yardstick of its CPU during a drain). */
export interface CopyCeiling extends Rate {
  postgresCpuSeconds: number;
}

export async function copyCeiling(sql: Sql, source: RowSource, file: string, partitions: number): Promise<CopyCeiling> {
  const out = createWriteStream(file);
  let rows = 0;
  const acceptedAt = new Date().toISOString();
  try {
    for await (const chunk of chunks(source.rows(), 4096)) {
      let text = "";
      for (const t of chunk) {
        text += copyRow([
          newTransactionId(),
          String(t.step),
          t.type,
          t.amount,
          t.nameOrig,
          t.oldbalanceOrg,
          t.newbalanceOrig,
          t.nameDest,
          t.oldbalanceDest,
          t.newbalanceDest,
          t.isFraud ? "t" : "f",
          t.isFlaggedFraud ? "t" : "f",
          acceptedAt,
          String(rows % partitions),
          String(rows),
          // api_key_id: the worker's rows carry one only when the API checks keys.
          null,
        ]);
        rows++;
      }
      if (!out.write(text)) await once(out, "drain");
    }
  } finally {
    out.end();
    await once(out, "close");
  }

  await sql`DROP TABLE IF EXISTS ${sql(copyCeilingTable)}`;
  await sql`CREATE TABLE ${sql(copyCeilingTable)} (LIKE transactions INCLUDING ALL)`;
  try {
    // Dirty pages of earlier phases are not this phase's cost.
    await sql`CHECKPOINT`;
    const startedMs = performance.now();
    const postgresBefore = samplePostgresCpu();
    const copy = await sql`COPY ${sql(copyCeilingTable)} (${sql(copyColumns)}) FROM STDIN`.writable();
    await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), copy);
    const seconds = (performance.now() - startedMs) / 1000;
    const postgresCpuSeconds = groupCpuDelta(postgresBefore, samplePostgresCpu());
    const [stored] = await sql<{ n: number }[]>`SELECT count(*)::integer AS n FROM ${sql(copyCeilingTable)}`;
    if (stored?.n !== rows) throw new Error(`copy ceiling: the table holds ${stored?.n} rows, ${rows} were copied`);
    return { ...rate(rows, seconds), postgresCpuSeconds };
  } finally {
    await sql`DROP TABLE IF EXISTS ${sql(copyCeilingTable)}`;
    await rm(file, { force: true });
  }
}

// --- kafka ------------------------------------------------------------------

export interface ProduceOptions {
  /** Messages in one produce request. */
  messagesPerRequest: number;
  /** Produce requests outstanding at once at most. */
  inFlightMax: number;
  /** Called after each acknowledged request with the messages acknowledged so far. */
  onProgress?: (acknowledged: number) => void;
}

/**
 * Produces every row as the API would (key nameOrig, value encodeMessage with
 * a new UUIDv7 and acceptedAt now), with acks=all and the idempotent producer
 * of kafka.ts. Returns the time from first send to last acknowledgement.
 */
export async function produceRows(
  producer: KafkaProducer,
  topic: string,
  source: RowSource,
  options: ProduceOptions,
): Promise<Rate> {
  let acknowledged = 0;
  const inFlight = new Set<Promise<void>>();
  const startedMs = performance.now();
  for await (const chunk of chunks(source.rows(), options.messagesPerRequest)) {
    const acceptedAt = new Date().toISOString();
    const messages: OutgoingMessage[] = chunk.map((t) => ({
      topic,
      key: Buffer.from(t.nameOrig),
      value: encodeMessage(acceptedNow(t, newTransactionId(), acceptedAt)),
    }));
    const sent: Promise<void> = produce(producer, messages).then(() => {
      acknowledged += messages.length;
      options.onProgress?.(acknowledged);
      inFlight.delete(sent);
    });
    inFlight.add(sent);
    if (inFlight.size >= options.inFlightMax) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return rate(acknowledged, (performance.now() - startedMs) / 1000);
}

export interface KafkaCeiling {
  produce: Rate;
  consume: Rate;
  /** From consume() to the group joined and the stream open, seconds (not in consume.seconds). */
  joinSeconds: number;
  /** The smaller of the two rates: a pipeline produces and consumes at once. */
  rowsPerSecond: number;
}

export async function kafkaCeiling(
  connection: KafkaConnection,
  names: { topic: string; groupId: string },
  partitions: number,
  source: RowSource,
  produceOptions: ProduceOptions,
): Promise<KafkaCeiling> {
  await ensureTopics(connection, [{ name: names.topic, partitions }]);
  const producer = createProducer(connection);
  let produced: Rate;
  try {
    produced = await produceRows(producer, names.topic, source, produceOptions);
  } finally {
    await producer.close();
  }

  const consumer = createConsumer(connection, { groupId: names.groupId });
  try {
    const joinStartedMs = performance.now();
    const stream = await consume(consumer, [names.topic]);
    const startedMs = performance.now();
    let count = 0;
    try {
      if (produced.rows > 0) {
        for await (const message of stream) {
          if (message.value === undefined) throw new Error("kafka ceiling: a message without a value");
          if (++count >= produced.rows) break;
        }
      }
    } finally {
      await stream.close().catch(() => {});
    }
    const consumed = rate(count, (performance.now() - startedMs) / 1000);
    return {
      produce: produced,
      consume: consumed,
      joinSeconds: (startedMs - joinStartedMs) / 1000,
      rowsPerSecond: Math.min(produced.rowsPerSecond, consumed.rowsPerSecond),
    };
  } finally {
    await consumer.close(true).catch(() => {});
  }
}

// --- http -------------------------------------------------------------------

export interface HttpCeiling extends Rate {
  latencyMs: { p50: number; p99: number };
  failures: Record<string, number>;
  cpuSeconds: number;
  peakRssBytes: number;
}

export async function httpCeiling(options: {
  bodies: Bodies;
  path: "/transaction" | "/transactions";
  concurrency: number;
  env: Record<string, string>;
  logDir: string;
  requestTimeoutMs: number;
  track: (stop: () => Promise<unknown>) => void;
}): Promise<HttpCeiling> {
  const port = await freePort();
  const child = startChild({
    name: "bare-api",
    file: "bench/bare-api.ts",
    env: { ...options.env, PORT: String(port) },
    logDir: options.logDir,
  });
  options.track(() => child.stop());
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitUntilReady(child, () => answers(`${base}/health`), 30_000, "answering /health");
    const before = sampleProcess(child.pid);
    const load: LoadResult = await runLoad({
      url: `${base}${options.path}`,
      bodies: options.bodies,
      concurrency: options.concurrency,
      requestTimeoutMs: options.requestTimeoutMs,
      overloadRetriesMax: 0,
    });
    const after = sampleProcess(child.pid);
    const latency = percentiles(load.latenciesMs);
    return {
      ...rate(load.acceptedRows, (load.endedAtMs - load.startedAtMs) / 1000),
      latencyMs: { p50: latency.p50, p99: latency.p99 },
      failures: load.failures,
      cpuSeconds: (after?.cpuSeconds ?? 0) - (before?.cpuSeconds ?? 0),
      peakRssBytes: after?.peakRssBytes ?? 0,
    };
  } finally {
    await child.stop(5000);
  }
}
