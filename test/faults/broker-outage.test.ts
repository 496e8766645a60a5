// Kafka killed (kill -9) under load and started again ~15 s later, with the
// API and the worker as real processes on a broker of this test's own:
// - during the outage POSTs answer 503 within ACCEPT_TIMEOUT_MS, never 202;
// - the worker rides it out (no exit, no restart) and says it is degraded;
// - after the broker returns, POSTs succeed and every 202 ends as a row,
//   without restarting either process.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBroker, freePort, type LocalBroker } from "../../scripts/broker.ts";
import { reconcile } from "../../src/reconcile.ts";
import { parseLogLine } from "../../src/runtime/log-lines.ts";
import { transactionIdForKey } from "../../src/transaction/ids.ts";
import { killBroker, paymentBody, processEnv, startProcess, type TxlogProcess } from "../support/processes.ts";
import { eventually, freshDatabase, type TestDatabase, testConfig, testTopics } from "../support/run.ts";

const acceptTimeoutMs = 2000;
/** How long the broker stays dead, milliseconds. */
const outageMs = 15_000;
const clients = 8;
/** Slack on top of ACCEPT_TIMEOUT_MS for a 503 to reach the client, milliseconds. */
const answerSlackMs = 1500;

let db: TestDatabase;
let broker: LocalBroker;
let brokerAddress: string;
const brokerDir = join(tmpdir(), `txlog-fault-broker-${process.env.TXLOG_TEST_RUN}`);
let api: TxlogProcess;
let worker: TxlogProcess;
let apiUrl: string;
let workerUrl: string;

async function startOwnBroker(): Promise<LocalBroker> {
  return ensureBroker({ broker: brokerAddress, dataDir: brokerDir, log: () => {} });
}

beforeAll(async () => {
  brokerAddress = `127.0.0.1:${await freePort()}`;
  broker = await startOwnBroker();
  db = await freshDatabase("fault_broker");
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  const workerPort = await freePort();
  workerUrl = `http://127.0.0.1:${workerPort}`;
  const env = processEnv(testTopics("fault-broker"), db.url, {
    KAFKA_BROKERS: brokerAddress,
    PORT: String(port),
    WORKER_PORT: String(workerPort),
    ACCEPT_TIMEOUT_MS: String(acceptTimeoutMs),
  });
  api = startProcess("src/api.ts", env);
  worker = startProcess("src/worker.ts", env);
  await eventually(
    async () =>
      /"state":"running".*"msg":"worker: consuming"|worker: running/.test(worker.output.text) ? true : undefined,
    60_000,
    "worker in its group",
  );
  await eventually(
    async () => ((await fetch(`${apiUrl}/ready`).catch(() => undefined))?.ok ? true : undefined),
    60_000,
    "API ready",
  );
}, 120_000);

afterAll(async () => {
  for (const process_ of [api, worker]) process_?.child.kill("SIGKILL");
  await broker?.stop().catch(() => {});
  await rm(brokerDir, { recursive: true, force: true });
  await db?.drop();
}, 60_000);

interface Answer {
  key: string;
  status: number | "connection error";
  startedAtMs: number;
  answeredAtMs: number;
}

const body = paymentBody;

/** `clients` closed-loop clients posting keyed single transactions until `until()` says stop. */
async function load(answers: Answer[], until: () => boolean): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (!until()) {
        const key = `outage-${next++}`;
        const startedAtMs = Date.now();
        const status = await fetch(`${apiUrl}/transaction`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": key },
          body: JSON.stringify({ ...body, nameOrig: `C${next % 97}` }),
        }).then(
          async (response) => {
            await response.arrayBuffer();
            return response.status;
          },
          () => "connection error" as const,
        );
        answers.push({ key, status, startedAtMs, answeredAtMs: Date.now() });
        if (status !== 202) await Bun.sleep(100);
      }
    }),
  );
}

test("Kafka killed for 15 s under load: 503 and never 202 meanwhile, the worker rides it out, every 202 ends as a row", async () => {
  const answers: Answer[] = [];
  let phase: "before" | "outage" | "after" | "done" = "before";
  const loading = load(answers, () => phase === "done");
  await Bun.sleep(3000);

  killBroker(brokerDir);
  const killedAtMs = Date.now();
  phase = "outage";
  // The worker says it is degraded, and why, once Kafka's requests fail.
  const degraded = await eventually(
    async () => {
      const response = await fetch(`${workerUrl}/ready`);
      const body = (await response.json()) as { state: string; problems: { kafka?: string } };
      return response.status === 503 && body.problems.kafka !== undefined ? body : undefined;
    },
    outageMs,
    "worker /ready 503 naming Kafka",
  );
  expect(degraded.state).toBe("degraded");
  await Bun.sleep(Math.max(0, killedAtMs + outageMs - Date.now()));
  const restartAtMs = Date.now();
  broker = await startOwnBroker();
  phase = "after";
  // Until 202s flow again and then some more.
  await eventually(
    async () => (answers.some((a) => a.startedAtMs > restartAtMs && a.status === 202) ? true : undefined),
    90_000,
    "a 202 after the broker returned",
  );
  await Bun.sleep(2000);
  phase = "done";
  await loading;

  // No request was dropped: every one was answered 202 or 503.
  expect(answers.filter((a) => a.status !== 202 && a.status !== 503)).toEqual([]);
  // Sent after the kill (and its requests in flight had their deadline) and before the restart: never 202.
  const duringOutage = answers.filter(
    (a) => a.startedAtMs > killedAtMs + acceptTimeoutMs + answerSlackMs && a.answeredAtMs < restartAtMs,
  );
  expect(duringOutage.length).toBeGreaterThan(0);
  expect(duringOutage.filter((a) => a.status === 202)).toEqual([]);
  for (const answer of duringOutage) {
    expect(answer.answeredAtMs - answer.startedAtMs).toBeLessThanOrEqual(acceptTimeoutMs + answerSlackMs);
  }

  // Every 202 ends as a row, and nothing is stored that was not posted.
  const accepted = answers.filter((a) => a.status === 202).map((a) => transactionIdForKey(a.key));
  const posted = new Set(answers.map((a) => transactionIdForKey(a.key)));
  const stored = await eventually(
    async () => {
      const rows = await db.sql<{ id: string }[]>`SELECT transaction_id::text AS id FROM transactions`;
      const ids = new Set(rows.map((row) => row.id));
      return accepted.every((id) => ids.has(id)) ? ids : undefined;
    },
    120_000,
    "every 202 stored",
  );
  expect([...stored].filter((id) => !posted.has(id))).toEqual([]);

  // Neither process exited or was restarted; the worker said it was degraded.
  expect(api.alive()).toBe(true);
  expect(worker.alive()).toBe(true);
  expect(worker.output.text).toMatch(/worker: degraded/);
  // The API logged the outage as an episode (a start with its cause, an end), not a line per 503.
  const refusals = answers.filter((a) => a.status === 503).length;
  const episode = api.output.text
    .split("\n")
    .map(parseLogLine)
    .filter((entry) => entry?.episode === "kafka produce");
  expect(episode.length).toBeGreaterThanOrEqual(2);
  expect(episode.length).toBeLessThan(refusals);
  expect(String(episode[0]?.msg)).toStartWith("kafka produce failing: ");
  expect(String(episode.at(-1)?.msg)).toMatch(/^kafka produce recovered after [\d.]+ s and \d+ failures$/);
  await eventually(async () => ((await fetch(`${workerUrl}/ready`)).status === 200 ? true : undefined), 30_000);
  const proof = await reconcile(
    testConfig({ ...testTopics("fault-broker"), kafkaBrokers: [brokerAddress], databaseUrl: db.url }),
  );
  expect(proof.ok).toBe(true);
}, 300_000);
