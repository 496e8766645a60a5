// Helpers for tests: names and databases of this test run (see test/setup.ts).

import { ProduceBatcher } from "../../src/api/produce-batcher.ts";
import type { KafkaConnection } from "../../src/kafka/client.ts";
import { kafkaConnection as connectionOf } from "../../src/kafka/connection.ts";
import { dropDatabase, ensureDatabase, openDatabase, type Sql, withDatabase } from "../../src/postgres/connection.ts";
import { migrate } from "../../src/postgres/migrate.ts";
import { type Config, loadConfig } from "../../src/runtime/config.ts";
import { newTransactionId } from "../../src/transaction/ids.ts";
import type { AcceptedTransaction } from "../../src/transaction/rules.ts";

/** The run's configuration, as a process started now would read it. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig(), ...overrides };
}

export function kafkaConnection(config: Config = testConfig()): KafkaConnection {
  return connectionOf(config);
}

/**
 * Topic names and a consumer group of this run for one test file or case, so
 * tests never read each other's messages: `<run prefix>.<name>` and its DLQ.
 */
export function testTopics(name: string, config: Config = testConfig()) {
  const base = config.topic.replace(/\.transactions$/, "");
  return { topic: `${base}.${name}`, dlqTopic: `${base}.${name}.dlq`, groupId: `${config.groupId}-${name}` };
}

export interface TestDatabase {
  url: string;
  sql: Sql;
  drop(): Promise<void>;
}

/** A migrated database of its own (`<run database>_<name>`), for tests that count rows. */
export async function freshDatabase(name: string, config: Config = testConfig()): Promise<TestDatabase> {
  const runDatabase = new URL(config.databaseUrl).pathname.slice(1);
  const url = withDatabase(config.databaseUrl, `${runDatabase}_${name}`);
  await dropDatabase(url);
  await ensureDatabase(url);
  const sql = openDatabase(url, { poolMax: 4 });
  await migrate(sql);
  return {
    url,
    sql,
    async drop() {
      await sql.end();
      await dropDatabase(url);
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

/** PaySim's first row as the API would have accepted it, with a new id. */
export function sampleTransaction(overrides: Partial<AcceptedTransaction> = {}): AcceptedTransaction {
  return {
    transactionId: newTransactionId(),
    acceptedAt: "2024-05-01T12:00:00.000Z",
    step: 1,
    type: "PAYMENT",
    amount: "9839.64",
    nameOrig: "C1231006815",
    oldbalanceOrg: "170136.00",
    newbalanceOrig: "160296.36",
    nameDest: "M1979787155",
    oldbalanceDest: "0.00",
    newbalanceDest: "0.00",
    isFraud: false,
    isFlaggedFraud: false,
    ...overrides,
  };
}

/**
 * A produce batcher whose requests go nowhere, answered at once: for apps
 * under test that only read, or whose test never looks at Kafka.
 */
export function discardingBatcher(): ProduceBatcher {
  return new ProduceBatcher({
    send: async () => {},
    lingerMs: 1,
    batchMessagesMax: 1,
    requestBytesMax: 1024 * 1024,
    inFlightMax: 1,
    queuedMessagesMax: 1,
    acceptTimeoutMs: 1000,
  });
}
