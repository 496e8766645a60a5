// The ceilings of a run (bench/ceilings.ts), measured on the same rows before
// the pipeline runs, each announced and its figures printed as it ends.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteTopics } from "../src/kafka/admin.ts";
import { copyCeiling, httpCeiling, kafkaCeiling } from "./ceilings.ts";
import { checkInterrupted, onCleanup } from "./cleanup.ts";
import type { Results } from "./report.ts";
import type { Bodies } from "./rows.ts";
import { produceSettings, type Run } from "./run.ts";

type Ceilings = Results["ceilings"];

/** COPY, Kafka and (via http and batch) bare Elysia. */
export async function measureCeilings(run: Run): Promise<Ceilings> {
  const ceilings: Ceilings = {};
  ceilings.copy = await measureCopy(run);
  checkInterrupted();
  ceilings.kafka = await measureKafka(run);
  checkInterrupted();
  if (run.bodies !== undefined) {
    ceilings.http = await measureHttp(run, run.bodies);
    checkInterrupted();
  }
  return ceilings;
}

async function measureCopy({ sql, source, prefix, config, say }: Run): Promise<Ceilings["copy"]> {
  say("ceiling: COPY of the rows into a copy of the transactions table ...");
  const copy = await copyCeiling(sql, source, join(tmpdir(), `${prefix}-copy.txt`), config.topicPartitions);
  say(
    `ceiling: COPY ${copy.rowsPerSecond.toFixed(0)} rows/s (${copy.seconds.toFixed(2)} s; PostgreSQL CPU ${copy.postgresCpuSeconds.toFixed(2)} s)`,
  );
  return copy;
}

async function measureKafka({ connection, prefix, config, source, offered, progress, say }: Run) {
  let produced = 0;
  progress.start("ceiling: Kafka produce", offered, () => ({ done: produced }));
  const kafka = await kafkaCeiling(
    connection,
    { topic: `${prefix}.ceiling`, groupId: `${prefix}-ceiling` },
    config.topicPartitions,
    source,
    {
      ...produceSettings,
      onProgress: (n) => {
        produced = n;
      },
    },
  );
  // Best effort: cleanUp() deletes whatever of the run's prefix is left, this topic and its group included.
  await deleteTopics(connection, [`${prefix}.ceiling`]).catch(() => {});
  say(
    `ceiling: Kafka produce ${kafka.produce.rowsPerSecond.toFixed(0)} rows/s, consume ${kafka.consume.rowsPerSecond.toFixed(0)} rows/s (group join ${kafka.joinSeconds.toFixed(2)} s)`,
  );
  return kafka;
}

async function measureHttp({ options, config, env, logDir, say }: Run, bodies: Bodies) {
  say(`ceiling: bare Elysia under the same load (concurrency ${options.concurrency}) ...`);
  const http = await httpCeiling({
    bodies,
    path: options.via === "batch" ? "/transactions" : "/transaction",
    concurrency: options.concurrency,
    env,
    logDir,
    requestTimeoutMs: config.acceptTimeoutMs + 10_000,
    track: (stop) => onCleanup("stop bare-api", stop),
  });
  say(
    `ceiling: bare Elysia ${http.rowsPerSecond.toFixed(0)} rows/s, p50 ${http.latencyMs.p50.toFixed(2)} ms, p99 ${http.latencyMs.p99.toFixed(2)} ms`,
  );
  return http;
}
