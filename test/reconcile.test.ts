// `bun run reconcile` against a real topic and database: a 100,000-message
// log drained by a worker reconciles (exit 0); a row deleted behind the
// worker's back is a gap named by partition, offset and id (exit 1).
import { afterAll, expect, test } from "bun:test";
import { spawn } from "bun";
import { createProducer, type OutgoingMessage, produce } from "../src/kafka/client.ts";
import { reconcile } from "../src/reconcile.ts";
import { encodeMessage } from "../src/transaction/message.ts";
import { startWorker } from "../src/worker.ts";
import { withGuardLifted } from "./support/append-only.ts";
import { silentLog } from "./support/logs.ts";
import { repoRoot } from "./support/processes.ts";
import {
  eventually,
  freshDatabase,
  kafkaConnection,
  sampleTransaction,
  testConfig,
  testTopics,
} from "./support/run.ts";

const messages = 100_000;
/** Messages per produce request while filling the log. */
const produceChunk = 2000;

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

test("a drained 100,000-message log reconciles; a deleted row is a gap named by its offset, and exits non-zero", async () => {
  const db = await freshDatabase("reconcile");
  cleanups.push(() => db.drop());
  const config = testConfig({ ...testTopics("reconcile"), databaseUrl: db.url, batchLingerMs: 20 });
  const producer = createProducer(kafkaConnection(config));
  cleanups.push(() => producer.close());
  const worker = await startWorker(config, { log: silentLog });
  cleanups.push(() => worker.stop());

  const all: OutgoingMessage[] = [];
  for (let i = 0; i < messages; i++) {
    const transaction = sampleTransaction({ nameOrig: `C${i % 997}`, acceptedAt: new Date().toISOString() });
    all.push({ topic: config.topic, key: Buffer.from(transaction.nameOrig), value: encodeMessage(transaction) });
  }
  // A redelivered id (a keyed retry), an invalid message with an id, and one not from txlog.
  all.push({ ...(all[0] as OutgoingMessage) });
  const invalid = sampleTransaction({ amount: "1.234" });
  all.push({ topic: config.topic, key: Buffer.from("C1"), value: encodeMessage(invalid) });
  all.push({ topic: config.topic, key: Buffer.from("C1"), value: Buffer.from("not a transaction") });
  for (let i = 0; i < all.length; i += produceChunk) await produce(producer, all.slice(i, i + produceChunk));
  await eventually(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM transactions`;
      return row?.n === messages ? true : undefined;
    },
    120_000,
    "the log drained",
  );
  await eventually(async () => (worker.stats.deadLettered === 2 ? true : undefined), 30_000, "dead letters");

  const result = await reconcile(config);
  const sum = (field: "messages" | "stored" | "rejected" | "duplicates" | "foreign" | "gaps") =>
    result.partitions.reduce((total, p) => total + p[field], 0);
  expect(result.ok).toBe(true);
  expect([sum("messages"), sum("stored"), sum("rejected"), sum("duplicates"), sum("foreign"), sum("gaps")]).toEqual([
    messages + 3,
    messages,
    1,
    1,
    1,
    0,
  ]);
  console.error(
    `reconcile of ${messages + 3} messages: read ${result.seconds.read} s, judged ${result.seconds.judge} s`,
  );

  // Deleted behind its back (the owner lifting the append-only guard): the command names it and fails.
  let victim: { id: string; partition: number; offset: string } | undefined;
  await withGuardLifted(db.sql, async (tx) => {
    [victim] = await tx<{ id: string; partition: number; offset: string }[]>`
      DELETE FROM transactions WHERE transaction_id =
        (SELECT transaction_id FROM transactions ORDER BY kafka_partition, kafka_offset LIMIT 1 OFFSET 500)
      RETURNING transaction_id::text AS id, kafka_partition AS partition, kafka_offset::text AS offset`;
  });
  const env = {
    ...(process.env as Record<string, string>),
    KAFKA_TOPIC: config.topic,
    KAFKA_GROUP_ID: config.groupId,
    DATABASE_URL: db.url,
  };
  const child = spawn(["bun", "run", "src/reconcile.ts"], { cwd: repoRoot, env, stdout: "pipe", stderr: "pipe" });
  const [output, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  expect(code).toBe(1);
  expect(output).toContain(`gap: partition ${victim?.partition} offset ${victim?.offset} id ${victim?.id}`);
  expect(output).toContain("NOT reconciled");
  const json = spawn(["bun", "run", "src/reconcile.ts", "--json"], { cwd: repoRoot, env, stdout: "pipe" });
  const parsed = JSON.parse(await new Response(json.stdout).text()) as { ok: boolean; firstGaps: unknown[] };
  expect(await json.exited).toBe(1);
  expect(parsed).toMatchObject({ ok: false, firstGaps: [{ transactionId: victim?.id }] });
}, 300_000);
