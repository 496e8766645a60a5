// The worker against the real broker and PostgreSQL: each test has its own
// topic, consumer group and database, and runs the worker in-process.
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { createApp } from "../../src/api/app.ts";
import { committedOffsets, endOffsets } from "../../src/kafka/admin.ts";
import {
  consume,
  createConsumer,
  createProducer,
  type KafkaMessage,
  type OutgoingMessage,
  produce,
  produceChunks,
  produceRecordBytesMax,
  recordBatchHeaderBytes,
} from "../../src/kafka/client.ts";
import { ensureTopics, setTopicConfig, txlogTopics } from "../../src/kafka/topics.ts";
import { deadLetterRefusedTriesMax } from "../../src/pipeline/batch-writer.ts";
import { dlqHeaders } from "../../src/pipeline/dead-letters.ts";
import type { Config } from "../../src/runtime/config.ts";
import { parseCommittedLine, parseReceivedLine } from "../../src/runtime/log-lines.ts";
import { withTimeout } from "../../src/runtime/timeout.ts";
import { fingerprint } from "../../src/transaction/fingerprint.ts";
import { encodeMessage } from "../../src/transaction/message.ts";
import type { AcceptedTransaction } from "../../src/transaction/rules.ts";
import { startWorker, type WorkerHandle } from "../../src/worker.ts";
import { type CapturedLog, capturedLog, silentLog } from "../support/logs.ts";
import {
  discardingBatcher,
  eventually,
  freshDatabase,
  kafkaConnection,
  sampleTransaction,
  type TestDatabase,
  testConfig,
  testTopics,
} from "../support/run.ts";

const connection = kafkaConnection();
const producer = createProducer(connection);
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await producer.close();
});

interface Setup {
  config: Config;
  db: TestDatabase;
  logs: CapturedLog;
  worker: WorkerHandle;
}

/**
 * A worker of its own: topic, DLQ, group and database named after the test.
 * `before` runs once the topics exist, before the worker starts.
 */
async function setup(
  name: string,
  overrides: Partial<Config> = {},
  before?: (config: Config, db: TestDatabase) => Promise<void>,
): Promise<Setup> {
  const db = await freshDatabase(name.replaceAll("-", "_"));
  cleanups.push(() => db.drop());
  const config = testConfig({ ...testTopics(name), databaseUrl: db.url, batchLingerMs: 20, ...overrides });
  if (before !== undefined) {
    await ensureTopics(connection, txlogTopics(config));
    await before(config, db);
  }
  // Debug: the tests count the retries' lines.
  const logs = capturedLog("debug");
  const worker = await startWorker(config, { log: logs.log });
  cleanups.push(() => worker.stop());
  return { config, db, logs, worker };
}

/** A sample transaction accepted now, from an account of its own (so messages spread over partitions). */
function accepted(overrides: Partial<AcceptedTransaction> = {}): AcceptedTransaction {
  return sampleTransaction({
    acceptedAt: new Date().toISOString(),
    nameOrig: `C${Math.floor(Math.random() * 1e9)}`,
    ...overrides,
  });
}

function message(topic: string, transaction: AcceptedTransaction): OutgoingMessage {
  return { topic, key: Buffer.from(transaction.nameOrig), value: encodeMessage(transaction) };
}

async function rowCount(db: TestDatabase, table = "transactions"): Promise<number> {
  const [row] = await db.sql`SELECT count(*)::integer AS count FROM ${db.sql(table)}`;
  return row?.count as number;
}

/** The error the worker stopped on (undefined if it stopped cleanly), waiting 30 s at most. */
function stoppedOn(worker: WorkerHandle): Promise<unknown> {
  return withTimeout(
    worker.done.then(
      () => undefined,
      (error: unknown) => error,
    ),
    30_000,
    "worker stop",
  );
}

/** Committed offsets of the group once they equal the topic's end offsets, on every partition. */
async function drained(config: Config, timeoutMs = 20_000): Promise<Map<number, bigint>> {
  return eventually(
    async () => {
      const [end, committed] = await Promise.all([
        endOffsets(connection, config.topic),
        committedOffsets(connection, config.groupId, config.topic),
      ]);
      for (const [partition, offset] of end) {
        if (offset > 0n && committed.get(partition) !== offset) return undefined;
      }
      return committed;
    },
    timeoutMs,
    "committed offsets equal to end offsets",
  );
}

/** drained(), but failing at once with the worker's own error should it stop first. */
function drainedWhileRunning(worker: WorkerHandle, config: Config, timeoutMs?: number): Promise<Map<number, bigint>> {
  const stopped = worker.done.then(() => {
    throw new Error("the worker stopped");
  });
  return Promise.race([drained(config, timeoutMs), stopped]);
}

/** The first `count` messages of `topic`, read by a throwaway group. */
async function readTopic(topic: string, count: number): Promise<KafkaMessage[]> {
  const consumer = createConsumer(connection, { groupId: `${topic}-reader` });
  const received: KafkaMessage[] = [];
  try {
    const stream = await consume(consumer, [topic]);
    await withTimeout(
      (async () => {
        for await (const m of stream) {
          received.push(m);
          if (received.length >= count) break;
        }
      })(),
      20_000,
      `reading ${count} messages of ${topic}`,
    );
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return received;
}

test("offsets are committed after the batch is written: committed equals end offsets once drained", async () => {
  const { config, db, logs, worker } = await setup("worker-drain", { batchRowsMax: 7 });
  const transactions = Array.from({ length: 40 }, () => accepted());
  await produce(
    producer,
    transactions.map((t) => message(config.topic, t)),
  );

  const committed = await drained(config);
  expect(await rowCount(db)).toBe(40);
  const end = await endOffsets(connection, config.topic);
  expect([...committed.values()].reduce((a, b) => a + b, 0n)).toBe(40n);
  expect(committed).toEqual(new Map([...end].filter(([, offset]) => offset > 0n)));
  // Every committed offset is one past a message that is stored with its Kafka position.
  for (const [partition, offset] of committed) {
    const [row] = await db.sql`SELECT max(kafka_offset) AS last FROM transactions WHERE kafka_partition = ${partition}`;
    expect(BigInt(row?.last as string) + 1n).toBe(offset);
  }
  // batchRowsMax 7: 40 rows take at least 6 batches, each logged in two lines.
  expect(worker.stats.batches).toBeGreaterThanOrEqual(6);
  const received = logs.lines.map(parseReceivedLine).filter((figures) => figures !== undefined);
  const committedLines = logs.lines.map(parseCommittedLine).filter((figures) => figures !== undefined);
  expect(received.length).toBe(worker.stats.batches);
  expect(committedLines.length).toBe(worker.stats.batches);
  expect(received.reduce((sum, r) => sum + r.messages, 0)).toBe(40);
  for (const figures of received) {
    expect(figures.messages).toBeGreaterThan(0);
    expect(figures.messages).toBeLessThanOrEqual(7);
    expect(figures.bytes).toBeGreaterThan(0);
    expect(figures.partitions.length).toBeGreaterThan(0);
    expect(Number.isInteger(figures.fillMs)).toBe(true);
  }
  expect(committedLines[0]).toMatchObject({ alreadyPresent: 0, deadLettered: 0, path: "direct" });
  expect(committedLines.reduce((sum, c) => sum + c.inserted, 0)).toBe(40);
}, 30_000);

test("the same transaction id produced twice leaves one row", async () => {
  const { config, db, worker } = await setup("worker-dup");
  const original = accepted({ amount: "100.00" });
  // Same id, other content: the first one written wins, the second is "already present".
  const retried = { ...original, amount: "999.99" };
  await produce(producer, [message(config.topic, original)]);
  await eventually(async () => ((await rowCount(db)) === 1 ? true : undefined), 20_000, "first row");
  await produce(producer, [message(config.topic, retried), message(config.topic, original)]);
  await drained(config);

  const rows = await db.sql`SELECT transaction_id, amount::text FROM transactions`;
  expect([...rows]).toEqual([{ transaction_id: original.transactionId, amount: "100.00" }]);
  expect(worker.stats.inserted).toBe(1);
  expect(worker.stats.duplicates).toBe(2);
  // The other transaction under the same id is not silently dropped: it is recorded as a reused key,
  // with both fingerprints; the plain redelivery of the original is absorbed without a record.
  const rejections = await db.sql<{ reason: string; fingerprint: string; stored_fingerprint: string }[]>`
    SELECT reason, fingerprint, stored_fingerprint FROM rejections WHERE transaction_id = ${original.transactionId}`;
  expect(rejections.map((r) => r.reason)).toEqual(["idempotency_key_reused"]);
  expect(rejections[0]?.fingerprint).toBe(fingerprint(retried));
  expect(rejections[0]?.stored_fingerprint).toBe(fingerprint(original));
}, 30_000);

test("two transactions under one id in flight in the same batch: the first in the log is stored, the other Rejected", async () => {
  const { config, db } = await setup("worker-key-race", { topicPartitions: 1, batchLingerMs: 500 });
  const first = accepted({ amount: "10.00" });
  const second = { ...first, amount: "20.00", acceptedAt: new Date().toISOString() };
  await produce(producer, [message(config.topic, first), message(config.topic, second)]);
  await drained(config);
  const rows = await db.sql`SELECT amount::text FROM transactions WHERE transaction_id = ${first.transactionId}`;
  expect([...rows]).toEqual([{ amount: "10.00" }]);
  const rejections = await db.sql`
    SELECT reason, kafka_offset::text AS offset FROM rejections WHERE transaction_id = ${first.transactionId}`;
  expect([...rejections]).toEqual([{ reason: "idempotency_key_reused", offset: "1" }]);
}, 30_000);

test("poison messages go to the DLQ with their reason; their neighbours in the batch are written", async () => {
  // One partition and a long linger: all messages land in one batch.
  const { config, db, worker } = await setup("worker-poison", { topicPartitions: 1, batchLingerMs: 1000 });
  const good = [accepted(), accepted(), accepted()];
  const notJson = { topic: config.topic, key: Buffer.from("k-json"), value: Buffer.from("{not json") };
  const badSchema = message(config.topic, accepted({ amount: "12.345", type: "STEAL" as "PAYMENT" }));
  badSchema.key = Buffer.from("k-schema");
  // Passes decodeMessage (a valid JavaScript date) yet PostgreSQL has no year 0: the
  // safety net for whatever the decoder and the database disagree on.
  const badForDb = message(config.topic, accepted({ acceptedAt: "0000-01-01T00:00:00.000Z" }));
  badForDb.key = Buffer.from("k-db");
  const sent = [
    message(config.topic, good[0] as AcceptedTransaction),
    notJson,
    message(config.topic, good[1] as AcceptedTransaction),
    badSchema,
    badForDb,
    message(config.topic, good[2] as AcceptedTransaction),
  ];
  await produce(producer, sent);
  await drained(config);

  const ids = await db.sql`SELECT transaction_id FROM transactions`;
  expect(ids.map((r) => r.transaction_id).sort()).toEqual(good.map((t) => t.transactionId).sort());
  expect(worker.stats.deadLettered).toBe(3);
  expect(worker.stats.batches).toBe(1);

  const letters = await readTopic(config.dlqTopic, 3);
  const byKey = new Map(letters.map((m) => [m.key.toString(), m]));
  expect([...byKey.keys()].sort()).toEqual(["k-db", "k-json", "k-schema"]);
  const reason = (key: string) => byKey.get(key)?.headers.get(dlqHeaders.reason);
  expect(reason("k-json")).toBe("(message): is not valid JSON");
  expect(reason("k-schema")).toContain("amount: ");
  expect(reason("k-schema")).toContain("type: must be one of");
  expect(reason("k-db")).toContain("database refused: 22008");
  for (const [key, original] of [
    ["k-json", notJson],
    ["k-schema", badSchema],
    ["k-db", badForDb],
  ] as const) {
    const letter = byKey.get(key) as KafkaMessage;
    expect(letter.value.equals(original.value)).toBe(true);
    expect(letter.headers.get(dlqHeaders.sourceTopic)).toBe(config.topic);
    expect(letter.headers.get(dlqHeaders.sourcePartition)).toBe("0");
    expect(Number(letter.headers.get(dlqHeaders.sourceOffset))).toBe(sent.indexOf(original));
  }
}, 30_000);

test("while the database write fails, offsets stay put; once it works, every row arrives exactly once", async () => {
  const { config, db, worker } = await setup("worker-dbdown", { retryBackoffMsMax: 200 });
  const before = Array.from({ length: 10 }, () => accepted());
  await produce(
    producer,
    before.map((t) => message(config.topic, t)),
  );
  const baseline = await drained(config);

  await db.sql`ALTER TABLE transactions RENAME TO transactions_away`;
  const during = Array.from({ length: 25 }, () => accepted());
  await produce(
    producer,
    during.map((t) => message(config.topic, t)),
  );
  const retriesBefore = worker.stats.retries;
  await eventually(async () => (worker.stats.retries >= retriesBefore + 3 ? true : undefined), 20_000, "retries");
  expect(await committedOffsets(connection, config.groupId, config.topic)).toEqual(baseline);
  expect(await rowCount(db, "transactions_away")).toBe(10);

  await db.sql`ALTER TABLE transactions_away RENAME TO transactions`;
  await drained(config);
  const rows = await db.sql`SELECT transaction_id, count(*)::integer AS n FROM transactions GROUP BY transaction_id`;
  expect(rows.length).toBe(35);
  expect(rows.every((r) => r.n === 1)).toBe(true);
  expect(rows.map((r) => r.transaction_id).sort()).toEqual([...before, ...during].map((t) => t.transactionId).sort());
}, 30_000);

test("stop() writes and commits the batch in hand before closing", async () => {
  // A linger far longer than the test: only stop() can close this batch.
  const { config, db, worker } = await setup("worker-stop", { batchLingerMs: 60_000 });
  await produce(
    producer,
    Array.from({ length: 12 }, () => message(config.topic, accepted())),
  );
  await eventually(async () => (worker.stats.received === 12 ? true : undefined), 20_000, "messages received");
  expect(await rowCount(db)).toBe(0);

  const started = Date.now();
  await worker.stop();
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(await rowCount(db)).toBe(12);
  await drained(config, 5_000);
  await worker.done;
}, 30_000);

test("stop() while the database write keeps failing returns promptly and commits nothing", async () => {
  const { config, db, worker } = await setup("worker-stop-down", { retryBackoffMsMax: 200 });
  await db.sql`ALTER TABLE transactions RENAME TO transactions_away`;
  await produce(
    producer,
    Array.from({ length: 5 }, () => message(config.topic, accepted())),
  );
  await eventually(async () => (worker.stats.retries >= 2 ? true : undefined), 20_000, "retries");

  const started = Date.now();
  await worker.stop();
  expect(Date.now() - started).toBeLessThan(5_000);
  await worker.done;
  expect(await committedOffsets(connection, config.groupId, config.topic)).toEqual(new Map());
  expect(await rowCount(db, "transactions_away")).toBe(0);
}, 30_000);

test("a second worker joining the group (a rebalance), then the first leaving: every row stored once, all committed", async () => {
  const first = await setup("worker-rebalance", { batchRowsMax: 20 });
  const { config, db } = first;
  const produced: AcceptedTransaction[] = [];
  async function wave(n: number) {
    const transactions = Array.from({ length: n }, () => accepted());
    produced.push(...transactions);
    await produce(
      producer,
      transactions.map((t) => message(config.topic, t)),
    );
  }

  await wave(100);
  const second = await startWorker(config, { log: silentLog });
  cleanups.push(() => second.stop());
  for (let i = 0; i < 5; i++) {
    await wave(40);
    await Bun.sleep(150);
  }
  // The group rebalanced: the second worker owns partitions and writes.
  await eventually(async () => (second.stats.batches > 0 ? true : undefined), 20_000, "second worker writing");
  // The first leaves: its partitions move to the second.
  await first.worker.stop();
  await wave(60);
  await drained(config);

  const rows = await db.sql`SELECT transaction_id FROM transactions`;
  expect(rows.length).toBe(produced.length);
  expect(new Set(rows.map((r) => r.transaction_id))).toEqual(new Set(produced.map((t) => t.transactionId)));
  // Both workers ended without an invariant failure.
  await first.worker.done;
  await second.stop();
  await second.done;
}, 30_000);

test("every poison message that carries an id ends Rejected: recorded with its reason, and GET /transactions/{id} says so", async () => {
  const { config, db } = await setup("worker-rejected", { topicPartitions: 1, batchLingerMs: 1000 });
  const good = accepted();
  const badSchema = accepted({ amount: "12.345" });
  const badForDb = accepted({ acceptedAt: "0000-01-01T00:00:00.000Z" });
  const noId = { topic: config.topic, key: Buffer.from("k"), value: Buffer.from("{not json") };
  await produce(producer, [
    message(config.topic, good),
    message(config.topic, badSchema),
    noId,
    message(config.topic, badForDb),
  ]);
  await drained(config);

  const rows = await db.sql<{ transaction_id: string; reason: string; message: string; kafka_offset: string }[]>`
    SELECT transaction_id, reason, message, kafka_offset::text FROM rejections ORDER BY kafka_offset`;
  expect(rows.map((r) => [r.transaction_id, r.reason, r.kafka_offset])).toEqual([
    [badSchema.transactionId, "invalid_message", "1"],
    [badForDb.transactionId, "database_refused", "3"],
  ]);
  expect(rows[0]?.message).toContain("amount: ");
  expect(rows[1]?.message).toContain("22008");

  const app = createApp({
    config,
    sql: db.sql,
    batcher: discardingBatcher(),
    shutdown: { requested: false },
    kafkaAnswers: async () => true,
  });
  const get = async (path: string) => {
    const response = await app.handle(new Request(`http://txlog${path}`));
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  expect(await get(`/transactions/${good.transactionId}`)).toMatchObject({
    status: 200,
    body: { status: "Completed" },
  });
  const rejected = await get(`/transactions/${badSchema.transactionId}`);
  expect(rejected).toMatchObject({ status: 200, body: { status: "Rejected", reason: "invalid_message" } });
  expect(rejected.body.errors).toEqual([{ field: "amount", rule: expect.stringContaining("2 fractional digits") }]);
  expect((await get(`/transactions/${crypto.randomUUID()}`)).status).toBe(404);
  const page = await get("/rejections?reason=database_refused");
  expect(page.body).toMatchObject({ rejections: [{ transactionId: badForDb.transactionId }], nextCursor: null });
  const first = await get("/rejections?limit=1");
  expect((first.body.rejections as unknown[]).length).toBe(1);
  const second = await get(`/rejections?limit=1&cursor=${first.body.nextCursor}`);
  expect((second.body.rejections as { transactionId: string }[])[0]?.transactionId).not.toBe(
    (first.body.rejections as { transactionId: string }[])[0]?.transactionId,
  );
}, 30_000);

/** Messages on `topic` (every partition), by its end offsets. */
async function messageCount(topic: string): Promise<bigint> {
  return [...(await endOffsets(connection, topic)).values()].reduce((a, b) => a + b, 0n);
}

/** Produces `messages` in requests the topic takes (one would be too large). */
async function produceAll(config: Config, messages: OutgoingMessage[]): Promise<void> {
  for (const chunk of produceChunks(messages, produceRecordBytesMax(config.messageBytesMax))) {
    await produce(producer, chunk);
  }
}

test("5,000 poison messages in one batch all reach the DLQ in requests that fit; the partition keeps moving", async () => {
  const poisonCount = 5000;
  const good = Array.from({ length: 50 }, () => accepted());
  const poison = Array.from({ length: poisonCount }, (_, i) => {
    const bad = message("", accepted({ type: "STEAL" as "PAYMENT" }));
    return { ...bad, key: Buffer.from(`poison-${i}`) };
  });
  // Produced before the worker starts, so its first batch holds them all:
  // one produce request for their dead letters would be over 2 MB.
  const { config, db, worker } = await setup(
    "worker-poison-flood",
    {
      topicPartitions: 1,
      batchRowsMax: poisonCount + good.length,
      batchBytesMax: 64 * 1024 * 1024,
      batchLingerMs: 2000,
    },
    async (config) => {
      const mixed: OutgoingMessage[] = poison.map((m) => ({ ...m, topic: config.topic }));
      for (const [i, t] of good.entries()) mixed.splice(i * 100, 0, message(config.topic, t));
      await produceAll(config, mixed);
    },
  );
  await drainedWhileRunning(worker, config, 60_000);
  expect(await rowCount(db)).toBe(good.length);
  expect(worker.stats.deadLettered).toBe(poisonCount);
  expect(worker.stats.batches).toBe(1);
  // Each dead letter once: the requests were cut, none failed and was sent again.
  expect(await messageCount(config.dlqTopic)).toBe(BigInt(poisonCount));
  const [first] = await readTopic(config.dlqTopic, 1);
  expect(first?.headers.get(dlqHeaders.reason)).toContain("type: must be one of");

  // Not stuck: a transaction produced after them is stored within the bound.
  const after = accepted();
  await produce(producer, [message(config.topic, after)]);
  await eventually(
    async () =>
      (await db.sql`SELECT 1 FROM transactions WHERE transaction_id = ${after.transactionId}`).length
        ? true
        : undefined,
    10_000,
    "the transaction after the poison stored",
  );
}, 120_000);

test("a dead letter too large for the DLQ's record batches is cut to fit, marked, with the whole value's SHA-256", async () => {
  const { config, worker } = await setup("worker-dlq-cut", { topicPartitions: 1 });
  const key = Buffer.from("k-huge");
  // As large as the topic takes: with the dead-letter headers added, more than the DLQ takes.
  const value = Buffer.alloc(config.messageBytesMax - recordBatchHeaderBytes - 64 - key.length, "x");
  value[0] = 0x7b; // "{": read as JSON, and refused as such
  await produce(producer, [{ topic: config.topic, key, value, headers: { trace: "t-1" } }]);
  await drainedWhileRunning(worker, config);
  expect(worker.stats.deadLettered).toBe(1);

  const [letter] = await readTopic(config.dlqTopic, 1);
  expect(letter?.key.equals(key)).toBe(true);
  expect(letter?.headers.get(dlqHeaders.cut)).toBe("value");
  expect(letter?.headers.get(dlqHeaders.valueSha256)).toBe(createHash("sha256").update(value).digest("hex"));
  expect(letter?.headers.get(dlqHeaders.valueBytes)).toBe(String(value.length));
  expect(letter?.headers.get(dlqHeaders.reason)).toBe("(message): is not valid JSON");
  expect(letter?.headers.get(dlqHeaders.sourceOffset)).toBe("0");
  expect(letter?.headers.get("trace")).toBe("t-1");
  const kept = letter?.value as Buffer;
  expect(kept.length).toBeLessThan(value.length);
  expect(kept.length).toBeGreaterThan(value.length - 4096);
  expect(kept.equals(value.subarray(0, kept.length))).toBe(true);
}, 60_000);

test("a dead-letter produce Kafka refuses for its size stops the worker after a bounded number of tries, nothing committed", async () => {
  const { config, db, worker, logs } = await setup("worker-dlq-refused", {
    topicPartitions: 1,
    retryBackoffMsMax: 200,
  });
  // The DLQ changed under the running worker: smaller than its records.
  await setTopicConfig(connection, config.dlqTopic, "max.message.bytes", "1024");
  await produce(producer, [
    message(config.topic, accepted()),
    { topic: config.topic, key: Buffer.from("k-big"), value: Buffer.alloc(4096, "x") },
  ]);
  const failure = await stoppedOn(worker);
  expect((failure as Error)?.message).toContain(
    `Kafka refused the dead letters ${deadLetterRefusedTriesMax} times with MESSAGE_TOO_LARGE`,
  );
  // Every retry at debug, one line for the episode.
  expect(logs.messages().filter((msg) => msg.startsWith("dead-letter produce failed (attempt")).length).toBe(
    deadLetterRefusedTriesMax - 1,
  );
  expect(logs.messages().filter((msg) => msg.startsWith("dead-letter produce failing:")).length).toBe(1);
  expect(await committedOffsets(connection, config.groupId, config.topic)).toEqual(new Map());
  expect(await rowCount(db)).toBe(1);
}, 60_000);

test("PostgreSQL refusing most of a batch with one SQLSTATE (a schema mistake) stops the worker naming it; nothing is committed or dead-lettered", async () => {
  const { config, db, worker } = await setup(
    "worker-schema-mistake",
    { topicPartitions: 1, batchLingerMs: 1000 },
    async (_config, db) => {
      await db.sql`ALTER TABLE transactions ADD CONSTRAINT refuses_every_row CHECK (amount < 0)`;
    },
  );
  await produce(
    producer,
    Array.from({ length: 20 }, () => message(config.topic, accepted())),
  );
  const failure = await stoppedOn(worker);
  expect((failure as Error)?.name).toBe("SystematicRefusalError");
  expect((failure as Error).message).toMatch(
    /^PostgreSQL refused 11 of 20 rows with SQLSTATE 23514 \(23514 new row .*refuses_every_row/,
  );
  expect(worker.stats.deadLettered).toBe(0);
  expect(await committedOffsets(connection, config.groupId, config.topic)).toEqual(new Map());
  expect(await messageCount(config.dlqTopic)).toBe(0n);
  expect(await rowCount(db)).toBe(0);
}, 60_000);

test("the API key id travels from the message into its row and its rejection; a message without one stores NULL", async () => {
  const { config, db } = await setup("worker-key-ids", { topicPartitions: 1, batchLingerMs: 1000 });
  const keyed = accepted({ apiKeyId: "alice" });
  const unkeyed = accepted();
  const v1 = accepted();
  const badSchema = accepted({ apiKeyId: "alice", amount: "12.345" });
  const badForDb = accepted({ apiKeyId: "bob", acceptedAt: "0000-01-01T00:00:00.000Z" });
  const reused = { ...keyed, amount: "99.00", acceptedAt: new Date().toISOString() };
  const { apiKeyId: _, ...v1Fields } = v1;
  await produce(producer, [
    message(config.topic, keyed),
    message(config.topic, unkeyed),
    { topic: config.topic, key: Buffer.from(v1.nameOrig), value: Buffer.from(JSON.stringify({ v: 1, ...v1Fields })) },
    message(config.topic, badSchema),
    message(config.topic, badForDb),
    message(config.topic, reused),
  ]);
  await drained(config);

  const rows = await db.sql<{ transaction_id: string; api_key_id: string | null }[]>`
    SELECT transaction_id, api_key_id FROM transactions`;
  expect(new Map(rows.map((r) => [r.transaction_id, r.api_key_id]))).toEqual(
    new Map([
      [keyed.transactionId, "alice"],
      [unkeyed.transactionId, null],
      [v1.transactionId, null],
    ]),
  );
  const rejections = await db.sql<{ transaction_id: string; reason: string; api_key_id: string | null }[]>`
    SELECT transaction_id, reason, api_key_id FROM rejections ORDER BY kafka_offset`;
  expect([...rejections]).toEqual([
    { transaction_id: badSchema.transactionId, reason: "invalid_message", api_key_id: "alice" },
    { transaction_id: badForDb.transactionId, reason: "database_refused", api_key_id: "bob" },
    { transaction_id: keyed.transactionId, reason: "idempotency_key_reused", api_key_id: "alice" },
  ]);
}, 30_000);
