// `bun run dlq` against a real worker process: a transaction PostgreSQL
// refuses (a CHECK constraint added by mistake) is rejected and
// dead-lettered; the operator lists it, drops the constraint (the fix) and
// replays it under its original id: it is stored once, its status is
// Completed, the replay is recorded, and a second replay is skipped.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "bun";
import { createApp } from "../src/api/app.ts";
import { parseDlqArgs } from "../src/dlq.ts";
import { endOffsets } from "../src/kafka/admin.ts";
import { createProducer, produce } from "../src/kafka/client.ts";
import { ensureTopics, txlogTopics } from "../src/kafka/topics.ts";
import { reconcile } from "../src/reconcile.ts";
import type { Config } from "../src/runtime/config.ts";
import { encodeMessage } from "../src/transaction/message.ts";
import type { AcceptedTransaction } from "../src/transaction/rules.ts";
import { processEnv, repoRoot, startProcess, type TxlogProcess } from "./support/processes.ts";
import {
  discardingBatcher,
  eventually,
  freshDatabase,
  kafkaConnection,
  sampleTransaction,
  type TestDatabase,
  testConfig,
  testTopics,
} from "./support/run.ts";

const topics = testTopics("dlq");
const connection = kafkaConnection();
const producer = createProducer(connection);
let db: TestDatabase;
let config: Config;
let env: Record<string, string>;
let worker: TxlogProcess;
const good = [1, 2, 3].map((i) => sampleTransaction({ amount: `${i}0.00`, nameOrig: `C-dlq-${i}` }));
const refused = sampleTransaction({ amount: "5000.00", nameOrig: "C-dlq-big", acceptedAt: "2024-05-02T08:30:00.123Z" });

beforeAll(async () => {
  db = await freshDatabase("dlq");
  config = testConfig({ ...topics, databaseUrl: db.url });
  env = processEnv(topics, db.url, { WORKER_PORT: "0" });
  await ensureTopics(connection, txlogTopics(config));
  // The cause to fix later: a constraint that refuses one of the rows.
  await db.sql`ALTER TABLE transactions ADD CONSTRAINT amount_cap CHECK (amount <= 1000)`;
  worker = startProcess("src/worker.ts", env);
  const messages = [...good, refused].map((t: AcceptedTransaction) => ({
    topic: topics.topic,
    key: Buffer.from(t.nameOrig, "latin1"),
    value: encodeMessage(t),
  }));
  await produce(producer, messages);
  await eventually(
    async () => {
      const [row] = await db.sql`SELECT
        (SELECT count(*)::int FROM transactions) AS stored, (SELECT count(*)::int FROM rejections) AS rejected`;
      return row?.stored === 3 && row?.rejected === 1 ? true : undefined;
    },
    60_000,
    "three stored, one rejected",
  ).catch((error) => {
    throw new Error(`${error.message}; worker output:\n${worker.output.text}`);
  });
}, 90_000);

afterAll(async () => {
  worker?.child.kill("SIGTERM");
  await worker?.child.exited;
  await producer.close();
  await db?.drop();
});

async function dlq(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(["bun", "run", "src/dlq.ts", ...args], { cwd: repoRoot, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, out, err };
}

async function topicEnd(): Promise<bigint> {
  return [...(await endOffsets(connection, topics.topic)).values()].reduce((a, b) => a + b, 0n);
}

async function replays() {
  return db.sql`SELECT replayed_by, transaction_id::text AS id, source_partition, source_offset::text, reason,
                       target_topic, target_partition, target_offset::text FROM dlq_replays`;
}

test("bad arguments are refused naming the argument and its rule; the command exits 2 and changes nothing", async () => {
  const cases: Array<[string[], string]> = [
    [["replay", "--id", "not-a-uuid", "--by", "alice"], "--id: must be a transaction id"],
    [["replay", "--id", refused.transactionId], "--by: must name who replays"],
    [["replay", "--id", refused.transactionId, "--by", "alice smith"], "--by: must name who replays"],
    [["replay", "--by", "alice"], "choose what to replay with --id"],
    [["--limit", "0"], "--limit: must be an integer from 1 to 10000"],
    [["--limit", "10001"], "--limit: must be an integer from 1 to 10000"],
    [["--reason", "Database Refused"], "--reason: must be 1 to 64 of a-z and _"],
    [["--by", "alice"], "--by and --dry-run belong to replay"],
    [["--since", "1d"], "Unknown option '--since'"],
    [["resend"], 'unknown command "resend"'],
  ];
  for (const [args, rule] of cases) expect(() => parseDlqArgs(args), args.join(" ")).toThrow(rule);
  expect(parseDlqArgs(["replay", "--id", refused.transactionId, "--by", "alice", "--dry-run"])).toMatchObject({
    replay: true,
    filter: { ids: [refused.transactionId], limit: 100 },
    replayedBy: "alice",
    dryRun: true,
  });
  const { code, out, err } = await dlq("replay", "--id", "not-a-uuid", "--by", "alice");
  expect(code).toBe(2);
  expect(err).toBe('dlq: --id: must be a transaction id (a UUID), got "not-a-uuid"\n');
  expect(out).toBe("");
  expect(await replays()).toHaveLength(0);
}, 60_000);

test("the list shows the rejected transaction with its reason, position and the original message from the topic", async () => {
  const { code, out } = await dlq("--json");
  expect(code).toBe(0);
  const list = JSON.parse(out) as { deadLetters: Record<string, unknown>[]; withoutIdCount: number };
  expect(list.deadLetters).toHaveLength(1);
  const [rejection] = await db.sql`SELECT kafka_partition, kafka_offset::text FROM rejections`;
  expect(list.deadLetters[0]).toMatchObject({
    transactionId: refused.transactionId,
    reason: "database_refused",
    partition: rejection?.kafka_partition,
    offset: rejection?.kafka_offset,
    stored: false,
    lastReplay: null,
    payload: "whole",
    value: encodeMessage(refused).toString("latin1"),
  });
  expect(String(list.deadLetters[0]?.message)).toContain("amount_cap");
  expect(list.withoutIdCount).toBe(0);
  const text = await dlq("--reason", "database_refused");
  expect(text.out).toContain(`${refused.transactionId}  database_refused`);
  expect(text.out).toContain("message in topic: whole");
  expect((await dlq("--reason", "invalid_message", "--json")).out).toContain('"deadLetters": []');
}, 60_000);

test("after the fix, a replay stores it under its original id, records who replayed it, and a second replay is skipped", async () => {
  const endBefore = await topicEnd();
  const dry = await dlq("replay", "--id", refused.transactionId, "--by", "alice", "--dry-run");
  expect(dry.code).toBe(0);
  expect(dry.out).toContain(`would replay: ${refused.transactionId}`);
  expect(await topicEnd()).toBe(endBefore);
  expect(await replays()).toHaveLength(0);

  await db.sql`ALTER TABLE transactions DROP CONSTRAINT amount_cap`;
  const first = await dlq("replay", "--reason", "database_refused", "--by", "alice");
  expect(first.code, first.err).toBe(0);
  expect(first.out).toContain(`replayed: ${refused.transactionId}`);
  expect(first.out).toContain("1 replayed by alice, 0 skipped");
  const [stored] = await eventually(async () => {
    const rows = await db.sql`SELECT amount::text, accepted_at FROM transactions
                              WHERE transaction_id = ${refused.transactionId}`;
    return rows.length === 1 ? rows : undefined;
  }, 30_000);
  expect(stored?.amount).toBe("5000.00");
  expect((stored as { accepted_at: Date }).accepted_at.toISOString()).toBe(refused.acceptedAt);

  const [rejection] = await db.sql`SELECT kafka_partition, kafka_offset::text FROM rejections`;
  expect([...(await replays())]).toEqual([
    {
      replayed_by: "alice",
      id: refused.transactionId,
      source_partition: rejection?.kafka_partition,
      source_offset: rejection?.kafka_offset,
      reason: "database_refused",
      target_topic: topics.topic,
      target_partition: expect.any(Number),
      target_offset: expect.any(String),
    },
  ]);
  expect(await topicEnd()).toBe(endBefore + 1n);
  expect(await statusOf(refused.transactionId)).toMatchObject({ status: "Completed", amount: "5000.00" });

  const second = await dlq("replay", "--id", refused.transactionId, "--by", "bob");
  expect(second.code).toBe(0);
  expect(second.out).toContain(`skipped: ${refused.transactionId}`);
  expect(second.out).toContain("already stored");
  expect(await replays()).toHaveLength(1);
  expect(await topicEnd()).toBe(endBefore + 1n);
  const listed = JSON.parse((await dlq("--json")).out) as { deadLetters: Record<string, unknown>[] };
  expect(listed.deadLetters[0]).toMatchObject({ stored: true, lastReplay: { replayedBy: "alice" } });

  // The replay is a new message of the log: reconcile counts it as a copy of a stored id.
  const reconciled = await reconcile(config);
  expect(reconciled.ok).toBe(true);
  expect(reconciled.partitions.reduce((sum, p) => sum + p.duplicates, 0)).toBe(1);
  const [{ rows }] = (await db.sql`SELECT count(*)::int AS rows FROM transactions`) as [{ rows: number }];
  expect(rows).toBe(4);
}, 90_000);

async function statusOf(id: string): Promise<Record<string, unknown>> {
  const app = createApp({
    config,
    sql: db.sql,
    batcher: discardingBatcher(),
    shutdown: { requested: false },
    kafkaAnswers: async () => true,
  });
  const response = await app.handle(new Request(`http://txlog/transactions/${id}`));
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}
