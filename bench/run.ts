// What every phase of a run uses, opened once: the Kafka broker (started if
// none answers), a fresh database and fresh topics named after the run, the
// rows to replay and, via http and batch, their request bodies. Each is
// registered with cleanUp() as soon as it exists.
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { ensureBroker, type LocalBroker } from "../scripts/broker.ts";
import { deleteGroups, deleteTopics, namesWithPrefix } from "../src/kafka/admin.ts";
import type { KafkaConnection } from "../src/kafka/client.ts";
import { kafkaConnection } from "../src/kafka/connection.ts";
import { ensureTopics, txlogTopics } from "../src/kafka/topics.ts";
import { dropDatabase, ensureDatabase, openDatabase, type Sql, withDatabase } from "../src/postgres/connection.ts";
import { migrate } from "../src/postgres/migrate.ts";
import { apiKeyEntryText, newApiKey } from "../src/runtime/api-keys.ts";
import { type Config, ConfigError, loadConfig, settings } from "../src/runtime/config.ts";
import { repoRoot } from "./children.ts";
import { checkInterrupted, onCleanup } from "./cleanup.ts";
import { lagSampleMs } from "./lag.ts";
import { type Options, UsageError } from "./options.ts";
import { Progress } from "./progress.ts";
import { resultFiles } from "./report.ts";
import { type Bodies, fileRows, generatedRows, type RowSource, requestBodies } from "./rows.ts";

/** Messages per produce request and requests in flight when the benchmark produces itself (backlog, Kafka ceiling). */
export const produceSettings = { messagesPerRequest: 2000, inFlightMax: 4 } as const;

export interface Run {
  options: Options;
  runId: string;
  prefix: string;
  startedAt: Date;
  /** Environment of the API and worker processes: this run's database, topics and group. */
  env: Record<string, string>;
  config: Config;
  /** `Bearer <key>` for every POST with --api-key; undefined without. */
  authorization: string | undefined;
  connection: KafkaConnection;
  databaseUrl: string;
  postgresVersion: string;
  sql: Sql;
  source: RowSource;
  /** Request bodies (via http and batch), built once before anything is timed. */
  bodies: Bodies | undefined;
  /** Rows the run replays. */
  offered: number;
  progress: Progress;
  /** Prints a line (ending the progress display first). */
  say(line: string): void;
  logDir: string;
  profileDir: string | undefined;
}

/** The broker, a fresh database and fresh topics, and the rows: everything removed again by cleanUp(). */
export async function openRun(options: Options): Promise<Run> {
  const runId = randomBytes(3).toString("hex");
  const prefix = `txlog-bench-${runId}`;
  const startedAt = new Date();
  const progress = new Progress();
  onCleanup("stop the progress display", async () => progress.stop());
  await mkdir(options.outDir, { recursive: true });
  // Result files of an earlier run must not pass for this one's if it fails.
  for (const file of Object.values(resultFiles)) await rm(join(options.outDir, file), { force: true });
  const say = (line: string) => {
    progress.stop();
    console.log(line);
  };

  const broker = await startBroker();
  checkInterrupted();
  const databaseUrl = withDatabase(
    process.env.DATABASE_URL || settings.databaseUrl.defaultValue,
    prefix.replaceAll("-", "_"),
  );
  const key = options.apiKey ? newApiKey("bench") : undefined;
  const { env, config } = runConfig(prefix, broker, databaseUrl, key?.key);
  const connection = kafkaConnection({ ...config, kafkaClientId: prefix });
  const { sql, postgresVersion } = await freshDatabase(options, databaseUrl);
  await freshTopics(options, connection, prefix, config);
  checkInterrupted();

  const { source, invalidRows } = rowSource(options);
  const logDir = options.outDir;
  const profileDir = options.profile ? join(options.outDir, "profiles") : undefined;
  if (profileDir) await mkdir(profileDir, { recursive: true });
  say(
    `bench ${runId}: ${source.description} via ${options.via}${options.apiKey ? " with an API key" : ""}, database ${databaseUrl.replace(/\/\/[^@]*@/, "//")}, topic ${config.topic} (${config.topicPartitions} partitions), out ${options.outDir}`,
  );
  const { bodies, offered } = await replayedRows(options, source);
  if (invalidRows() > 0) say(`bench: skipped ${invalidRows()} invalid rows of ${options.file}`);
  if (offered === 0) throw new UsageError("no rows to replay");
  checkInterrupted();
  return {
    options,
    runId,
    prefix,
    startedAt,
    env,
    config,
    authorization: key === undefined ? undefined : `Bearer ${key.key}`,
    connection,
    databaseUrl,
    postgresVersion,
    sql,
    source,
    bodies,
    offered,
    progress,
    say,
    logDir,
    profileDir,
  };
}

/** The first broker of KAFKA_BROKERS (or the default), started here if nothing answers there. */
async function startBroker(): Promise<LocalBroker> {
  const brokerAddress = (process.env.KAFKA_BROKERS || settings.kafkaBrokers.defaultValue)
    .split(",")[0]
    ?.trim() as string;
  const broker = await ensureBroker({
    broker: brokerAddress,
    dataDir: join(repoRoot, ".txlog", "kafka"),
    log: (line) => console.error(line),
  });
  onCleanup("stop the Kafka broker this run started", () => broker.stop());
  return broker;
}

/** The environment of the run's processes and its configuration; a bad setting is a usage error (exit 2). */
function runConfig(prefix: string, broker: LocalBroker, databaseUrl: string, apiKey: string | undefined) {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    KAFKA_BROKERS: broker.brokers.join(","),
    DATABASE_URL: databaseUrl,
    KAFKA_TOPIC: `${prefix}.transactions`,
    KAFKA_DLQ_TOPIC: `${prefix}.transactions.dlq`,
    KAFKA_GROUP_ID: `${prefix}-worker`,
    // Several workers on one machine: each its own status port.
    WORKER_PORT: "0",
    // The bench measures throughput, not throttling: with keys or without
    // (one shared bucket then) the rate limit stays out of the way, while
    // every request still pays for its bucket.
    API_KEY_REQUESTS_PER_S: process.env.API_KEY_REQUESTS_PER_S || "1000000",
    API_KEY_BURST_REQUESTS: process.env.API_KEY_BURST_REQUESTS || "10000000",
    TXLOG_API_KEYS: apiKey === undefined ? "" : apiKeyEntryText("bench", ["write"], apiKey),
    TXLOG_API_KEYS_FILE: "",
    // The lag in the workers' /metrics as fresh as the benchmark samples it.
    WORKER_LAG_POLL_MS: String(lagSampleMs),
  };
  try {
    return { env, config: loadConfig(env) };
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`bad configuration: ${error.message}`);
    throw error;
  }
}

/** The run's own database, migrated; dropped again on cleanUp() unless --keep. */
async function freshDatabase(options: Options, databaseUrl: string): Promise<{ sql: Sql; postgresVersion: string }> {
  await dropDatabase(databaseUrl);
  await ensureDatabase(databaseUrl);
  onCleanup("drop the run's database", () =>
    options.keep ? Promise.resolve(console.log(`kept database ${databaseUrl}`)) : dropDatabase(databaseUrl),
  );
  const sql = openDatabase(databaseUrl, { poolMax: 2 });
  onCleanup("close the database pool", () => sql.end({ timeout: 5 }));
  await migrate(sql);
  const [{ version: postgresVersion } = { version: "" }] = await sql<{ version: string }[]>`SELECT version()`;
  return { sql, postgresVersion };
}

/** The run's topics; on cleanUp() every topic and group of its prefix goes (the ceiling's too) unless --keep. */
async function freshTopics(options: Options, connection: KafkaConnection, prefix: string, config: Config) {
  onCleanup("delete the run's topics and groups", async () => {
    if (options.keep) {
      console.log(`kept topics and groups ${prefix}*`);
      return;
    }
    const { topics, groups } = await namesWithPrefix(connection, prefix);
    await deleteTopics(connection, topics);
    if (groups.length > 0) await deleteGroups(connection, groups);
  });
  await ensureTopics(connection, txlogTopics(config));
}

/** Generated rows, or the file's; invalidRows() counts the file's rows skipped so far. */
function rowSource(options: Options): { source: RowSource; invalidRows: () => number } {
  let invalid = 0;
  const source =
    options.file === undefined
      ? generatedRows(options.rows as number, options.seed)
      : fileRows(options.file, options.rows, () => invalid++);
  return { source, invalidRows: () => invalid };
}

/** Reads the rows once: via kafka to count them, otherwise to build the request bodies before anything is timed. */
async function replayedRows(options: Options, source: RowSource): Promise<{ bodies?: Bodies; offered: number }> {
  if (options.via === "kafka") {
    let offered = 0;
    for await (const _ of source.rows()) offered++;
    return { offered };
  }
  const bodies = await requestBodies(source, options.via === "batch" ? options.batchRows : undefined);
  return { bodies, offered: bodies.totalRows };
}
