// SIGTERM under load, with the API and the worker as real processes: the API
// stops taking new work first (503, /ready 503), answers every request in
// flight (202 or 503, never a dropped connection) and exits 0; the worker
// finishes and commits its batch and exits 0; a second signal exits at once.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freePort } from "../../scripts/broker.ts";
import { committedOffsets, endOffsets } from "../../src/kafka/admin.ts";
import { transactionIdForKey } from "../../src/transaction/ids.ts";
import { paymentBody, processEnv, startProcess, type TxlogProcess } from "../support/processes.ts";
import { eventually, freshDatabase, kafkaConnection, type TestDatabase, testTopics } from "../support/run.ts";

const clients = 32;
const acceptTimeoutMs = 3000;
const drainMs = 1500;
/** How long a stop may take: the drain, every request's accept deadline, and closing. */
const apiExitMsMax = drainMs + acceptTimeoutMs + 5000;
const workerExitMsMax = 15_000;

const topics = testTopics("sigterm");
let db: TestDatabase;
let env: Record<string, string>;
const started: TxlogProcess[] = [];

beforeAll(async () => {
  db = await freshDatabase("fault_sigterm");
  env = processEnv(topics, db.url, {
    ACCEPT_TIMEOUT_MS: String(acceptTimeoutMs),
    SHUTDOWN_DRAIN_MS: String(drainMs),
  });
}, 60_000);

afterAll(async () => {
  for (const process_ of started) process_.child.kill("SIGKILL");
  await db?.drop();
}, 60_000);

async function startApi(extraEnv: Record<string, string> = {}): Promise<{ api: TxlogProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const api = startProcess("src/api.ts", { ...env, PORT: String(port), ...extraEnv });
  started.push(api);
  await eventually(async () => ((await fetch(`${url}/ready`).catch(() => undefined))?.ok ? true : undefined), 60_000);
  return { api, url };
}

const body = paymentBody;

interface Answer {
  key: string;
  outcome: number | string;
  /** The 503's error code, e.g. shutting_down. */
  error?: string;
}

/** One keyed POST: its status, or the error code when no answer came. */
async function post(url: string, key: string): Promise<Answer> {
  try {
    const response = await fetch(`${url}/transaction`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(body),
    });
    const answer = (await response.json().catch(() => ({}))) as { error?: string };
    return { key, outcome: response.status, error: answer.error };
  } catch (error) {
    return { key, outcome: String((error as { code?: unknown }).code ?? (error as Error).message) };
  }
}

test("SIGTERM under 32 clients: new work refused first, every request in flight answered, both processes exit 0", async () => {
  const worker = startProcess("src/worker.ts", env);
  started.push(worker);
  const { api, url } = await startApi();
  const answers: Answer[] = [];
  let next = 0;
  let goneElsewhere = false;
  // Each client, as a client behind a load balancer would, leaves this
  // instance once told it is shutting down (or once it refuses connections).
  const loading = Promise.all(
    Array.from({ length: clients }, async () => {
      for (;;) {
        const answer = await post(url, `sigterm-${next++}`);
        answers.push(answer);
        if (answer.error === "shutting_down" || answer.outcome === "ConnectionRefused" || goneElsewhere) return;
      }
    }),
  );
  await Bun.sleep(2000);
  const signalledAtMs = Date.now();
  api.child.kill("SIGTERM");
  await Bun.sleep(drainMs / 3);
  const ready = await fetch(`${url}/ready`);
  expect(ready.status).toBe(503);
  expect(((await ready.json()) as { message?: string }).message).toContain("shutting down");
  const apiCode = await api.child.exited;
  const apiExitMs = Date.now() - signalledAtMs;
  goneElsewhere = true;
  await loading;

  expect(apiCode).toBe(0);
  expect(apiExitMs).toBeLessThanOrEqual(apiExitMsMax);
  // Every request got an answer: no connection was dropped.
  expect(answers.some((a) => a.error === "shutting_down")).toBe(true);
  const unanswered = answers.filter((a) => typeof a.outcome === "string" && a.outcome !== "ConnectionRefused");
  expect(unanswered).toEqual([]);
  expect(answers.filter((a) => typeof a.outcome === "number" && a.outcome !== 202 && a.outcome !== 503)).toEqual([]);
  expect(answers.some((a) => a.outcome === 202)).toBe(true);
  expect(api.output.text).toContain("API: stopped");

  // Every 202 is stored; then the worker stops, having committed everything it wrote.
  const accepted = answers.filter((a) => a.outcome === 202).map((a) => transactionIdForKey(a.key));
  await eventually(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM transactions WHERE transaction_id = ANY(${accepted}::uuid[])`;
      return row?.n === accepted.length ? true : undefined;
    },
    60_000,
    "every 202 stored",
  );
  const workerSignalledAtMs = Date.now();
  worker.child.kill("SIGTERM");
  expect(await worker.child.exited).toBe(0);
  expect(Date.now() - workerSignalledAtMs).toBeLessThanOrEqual(workerExitMsMax);
  const connection = kafkaConnection();
  const [committed, end] = await Promise.all([
    committedOffsets(connection, topics.groupId, topics.topic),
    endOffsets(connection, topics.topic),
  ]);
  for (const [partition, endOffset] of end) {
    if (endOffset > 0n) expect(committed.get(partition)).toBe(endOffset);
  }
}, 180_000);

test("a second signal exits at once, without waiting for the drain", async () => {
  const { api } = await startApi({ SHUTDOWN_DRAIN_MS: "60000" });
  api.child.kill("SIGTERM");
  await Bun.sleep(300);
  const secondAtMs = Date.now();
  api.child.kill("SIGTERM");
  const code = await api.child.exited;
  expect(Date.now() - secondAtMs).toBeLessThan(3000);
  expect(code).not.toBe(0);
  expect(api.output.text).toContain("second SIGTERM, exiting at once");
}, 90_000);
