// The worker killed with SIGKILL at 5 random moments during a 50,000-
// transaction replay, restarted each time, with the API and the worker as
// real processes: every 202 ends as exactly one row, and nothing is stored
// that was not accepted.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freePort } from "../../scripts/broker.ts";
import { committedOffsets, endOffsets } from "../../src/kafka/admin.ts";
import { reconcile } from "../../src/reconcile.ts";
import { processEnv, startProcess, type TxlogProcess } from "../support/processes.ts";
import {
  eventually,
  freshDatabase,
  kafkaConnection,
  type TestDatabase,
  testConfig,
  testTopics,
} from "../support/run.ts";

const transactions = 50_000;
const requestRows = 500;
/** Pause between two batch POSTs, so the replay lasts long enough to be crashed into, milliseconds. */
const requestGapMs = 120;
const kills = 5;

const topics = testTopics("worker-crash");
let db: TestDatabase;
let env: Record<string, string>;
let api: TxlogProcess;
let apiUrl: string;
const workers: TxlogProcess[] = [];

beforeAll(async () => {
  db = await freshDatabase("fault_worker_crash");
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  env = processEnv(topics, db.url, {
    PORT: String(port),
    WORKER_BATCH_ROWS_MAX: "2000",
  });
  api = startProcess("src/api.ts", env);
  await eventually(
    async () => ((await fetch(`${apiUrl}/ready`).catch(() => undefined))?.ok ? true : undefined),
    60_000,
  );
}, 90_000);

afterAll(async () => {
  for (const process_ of [api, ...workers]) process_?.child.kill("SIGKILL");
  await db?.drop();
}, 60_000);

function startWorker(): TxlogProcess {
  const worker = startProcess("src/worker.ts", env);
  workers.push(worker);
  return worker;
}

function batch(offset: number) {
  return Array.from({ length: requestRows }, (_, i) => ({
    step: 1 + ((offset + i) % 700),
    type: "CASH_OUT",
    amount: `${(offset + i) % 100000}.${String(i % 100).padStart(2, "0")}`,
    nameOrig: `C${(offset + i) % 1009}`,
    oldbalanceOrg: "0",
    newbalanceOrig: "0",
    nameDest: `M${(offset + i) % 211}`,
    oldbalanceDest: "0",
    newbalanceDest: "0",
  }));
}

/** Replays `transactions` in batch POSTs; the ids of every 202. */
async function replay(): Promise<string[]> {
  const accepted: string[] = [];
  for (let offset = 0; offset < transactions; offset += requestRows) {
    const response = await fetch(`${apiUrl}/transactions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(batch(offset)),
    });
    const answer = (await response.json()) as { transactionIds?: string[] };
    expect(response.status).toBe(202);
    accepted.push(...(answer.transactionIds ?? []));
    await Bun.sleep(requestGapMs);
  }
  return accepted;
}

test("kill -9 the worker at 5 random moments of a 50,000 replay: exactly one row per 202", async () => {
  let worker = startWorker();
  const replaying = replay();
  const replayMs = (transactions / requestRows) * requestGapMs;
  const moments = Array.from({ length: kills }, () => 1000 + Math.random() * replayMs).sort((a, b) => a - b);
  const startedAtMs = Date.now();
  for (const moment of moments) {
    await Bun.sleep(Math.max(0, startedAtMs + moment - Date.now()));
    worker.child.kill("SIGKILL");
    await worker.child.exited;
    worker = startWorker();
  }
  const accepted = await replaying;
  expect(accepted.length).toBe(transactions);

  await eventually(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM transactions`;
      return row?.n === transactions ? true : undefined;
    },
    180_000,
    "every 202 stored",
  );
  // The primary key makes a duplicate impossible; what is checked is that the stored set is the accepted set.
  const [missing] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM unnest(${accepted}::uuid[]) AS a(id)
    WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = a.id)`;
  expect(missing?.n).toBe(0);
  const [perKafkaPosition] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM (
      SELECT kafka_partition, kafka_offset FROM transactions GROUP BY 1, 2 HAVING count(*) > 1
    ) twice`;
  expect(perKafkaPosition?.n).toBe(0);
  // The last worker catches up and commits to the end of every partition.
  const connection = kafkaConnection();
  await eventually(async () => {
    const [committed, end] = await Promise.all([
      committedOffsets(connection, topics.groupId, topics.topic),
      endOffsets(connection, topics.topic),
    ]);
    return [...end].every(([partition, offset]) => offset === 0n || committed.get(partition) === offset)
      ? true
      : undefined;
  }, 60_000);
  expect(workers.length).toBe(kills + 1);
  // And the proof over the Kafka log itself: every message is stored or rejected.
  const proof = await reconcile(testConfig({ ...topics, databaseUrl: db.url }));
  expect(proof.ok).toBe(true);
  expect(proof.partitions.reduce((sum, p) => sum + p.stored, 0)).toBe(transactions);
}, 400_000);
