// Preloaded by `bun test` (bunfig.toml): gives this run its own Kafka topics,
// consumer group and PostgreSQL database, starting a real Kafka broker when
// none answers, and removes them all when the run ends. Tests read the
// settings from process.env through loadConfig(), like the processes do.
import { afterAll } from "bun:test";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBroker, freePort } from "../scripts/broker.ts";
import { deleteGroups, deleteTopics, kafkaAnswers, namesWithPrefix } from "../src/kafka/admin.ts";
import { dropDatabase, ensureDatabase, openDatabase, withDatabase } from "../src/postgres/connection.ts";
import { migrate } from "../src/postgres/migrate.ts";
import { settings } from "../src/runtime/config.ts";
import { dropAbandonedTestDatabases, dropAbandonedTestRoles, runDatabaseName } from "./support/abandoned.ts";

const runId = randomBytes(4).toString("hex");
const prefix = `txlog-test-${runId}`;

// A broker named by KAFKA_BROKERS, or one answering at the default address
// (say `npm start`'s), is used as it is. Otherwise this run starts its own on
// a free port, so two runs never share a broker one of them will stop.
const wanted = process.env.KAFKA_BROKERS || settings.kafkaBrokers.defaultValue;
const answering = await kafkaAnswers({ brokers: wanted.split(","), clientId: prefix, timeoutMs: 2000 });
const broker = await ensureBroker({
  broker:
    answering || process.env.KAFKA_BROKERS ? (wanted.split(",")[0]?.trim() as string) : `127.0.0.1:${await freePort()}`,
  dataDir: join(tmpdir(), `${prefix}-kafka`),
  ephemeral: true,
  log: (line) => console.error(line),
});

const baseUrl = process.env.DATABASE_URL || settings.databaseUrl.defaultValue;
const abandoned = await dropAbandonedTestDatabases(baseUrl);
if (abandoned.length > 0) console.error(`dropped databases of test runs that were killed: ${abandoned.join(", ")}`);
const abandonedRoles = await dropAbandonedTestRoles(baseUrl);
if (abandonedRoles.length > 0)
  console.error(`dropped roles of test runs that were killed: ${abandonedRoles.join(", ")}`);
const databaseUrl = withDatabase(baseUrl, runDatabaseName(runId));
await ensureDatabase(databaseUrl);
const sql = openDatabase(databaseUrl, { poolMax: 1 });
await migrate(sql);
await sql.end();

Object.assign(process.env, {
  TXLOG_TEST_RUN: runId,
  KAFKA_BROKERS: broker.brokers.join(","),
  KAFKA_TOPIC: `${prefix}.transactions`,
  KAFKA_DLQ_TOPIC: `${prefix}.transactions.dlq`,
  KAFKA_GROUP_ID: `${prefix}-worker`,
  KAFKA_CLIENT_ID: prefix,
  // Many workers per run, in-process and as processes: each its own status port.
  WORKER_PORT: "0",
  DATABASE_URL: databaseUrl,
});
console.error(
  `test run ${runId}: Kafka ${broker.brokers.join(",")} (${broker.started ? "started for this run" : "already running"}), database ${databaseUrl}`,
);

afterAll(async () => {
  const connection = { brokers: broker.brokers, clientId: prefix, timeoutMs: 5000 };
  try {
    const { topics, groups } = await namesWithPrefix(connection, prefix);
    await deleteTopics(connection, topics);
    if (groups.length > 0) await deleteGroups(connection, groups);
  } finally {
    await dropDatabase(databaseUrl);
    await broker.stop();
  }
});
