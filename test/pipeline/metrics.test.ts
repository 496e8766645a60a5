// Both /metrics of a deployment: the API and the worker as `bun run` starts
// them, scraped before and after a small replay (valid POSTs, an invalid one,
// and a message the worker must reject); the figures move by what happened.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freePort } from "../../scripts/broker.ts";
import { createProducer, produce } from "../../src/kafka/client.ts";
import { metricSum, parseMetricsText } from "../../src/runtime/metrics.ts";
import { encodeMessage } from "../../src/transaction/message.ts";
import { paymentBody, processEnv, startProcess, type TxlogProcess } from "../support/processes.ts";
import {
  eventually,
  freshDatabase,
  kafkaConnection,
  sampleTransaction,
  type TestDatabase,
  testTopics,
} from "../support/run.ts";

const topics = testTopics("metrics");
const posted = 5;
let db: TestDatabase;
let api: TxlogProcess;
let worker: TxlogProcess;
let apiUrl: string;
let workerUrl: string;

async function answersOk(url: string): Promise<true | undefined> {
  return (await fetch(url).then(
    (response) => response.ok,
    () => false,
  ))
    ? true
    : undefined;
}

beforeAll(async () => {
  db = await freshDatabase("metrics");
  const [port, workerPort] = [await freePort(), await freePort()];
  const env = processEnv(topics, db.url, {
    PORT: String(port),
    WORKER_PORT: String(workerPort),
    WORKER_LAG_POLL_MS: "200",
  });
  apiUrl = `http://127.0.0.1:${port}`;
  workerUrl = `http://127.0.0.1:${workerPort}`;
  api = startProcess("src/api.ts", env);
  await eventually(() => answersOk(`${apiUrl}/health`), 60_000, "API answering");
  worker = startProcess("src/worker.ts", env);
  await eventually(() => answersOk(`${workerUrl}/ready`), 60_000, "worker ready");
}, 120_000);

afterAll(async () => {
  for (const process of [api, worker]) process?.child.kill("SIGTERM");
  await Promise.all([api?.child.exited, worker?.child.exited]);
  await db?.drop();
}, 60_000);

async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  return parseMetricsText(await response.text());
}

const sumOf = (series: Map<string, number>, name: string) => metricSum(series, name);

test("after a replay, the API's and the worker's figures moved by what happened, and the lag is back to 0", async () => {
  const [apiBefore, workerBefore] = [await scrape(apiUrl), await scrape(workerUrl)];
  for (let i = 0; i < posted; i++) {
    const response = await fetch(`${apiUrl}/transaction`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(paymentBody),
    });
    expect(response.status).toBe(202);
  }
  const invalid = await fetch(`${apiUrl}/transaction`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{",
  });
  expect(invalid.status).toBe(400);
  // A message the API would never have sent (step 0): the worker records it Rejected and dead-letters it.
  const producer = createProducer(kafkaConnection());
  try {
    const broken = sampleTransaction({ step: 0 });
    await produce(producer, [{ topic: topics.topic, key: Buffer.from("C1"), value: encodeMessage(broken) }]);
  } finally {
    await producer.close();
  }

  const workerAfter = await eventually(
    async () => {
      const series = await scrape(workerUrl);
      const lagZero = sumOf(series, "txlog_worker_consumer_lag_messages") === 0;
      const committed = sumOf(series, "txlog_worker_committed_offset");
      return lagZero && committed - sumOf(workerBefore, "txlog_worker_committed_offset") === posted + 1
        ? series
        : undefined;
    },
    30_000,
    "the worker's committed offsets moved by every message and its lag back to 0",
  );
  const moved = (name: string) => sumOf(workerAfter, name) - sumOf(workerBefore, name);
  expect(moved("txlog_worker_rows_written_total")).toBe(posted);
  expect(workerAfter.get('txlog_worker_rejections_total{reason="invalid_message"}')).toBe(1);
  expect(moved("txlog_worker_dead_letters_total")).toBe(1);
  expect(moved("txlog_worker_batch_write_seconds_count")).toBeGreaterThan(0);
  expect(moved("txlog_worker_retries_total")).toBe(0);
  expect(sumOf(workerAfter, "txlog_process_resident_memory_bytes")).toBeGreaterThan(0);
  const [{ stored }] = (await db.sql`SELECT count(*)::int AS stored FROM transactions`) as unknown as [
    { stored: number },
  ];
  expect(stored).toBe(posted);

  const apiAfter = await scrape(apiUrl);
  const answered = (status: number) =>
    (apiAfter.get(`txlog_api_request_duration_seconds_count{method="POST",route="/transaction",status="${status}"}`) ??
      0) -
    (apiBefore.get(`txlog_api_request_duration_seconds_count{method="POST",route="/transaction",status="${status}"}`) ??
      0);
  expect(answered(202)).toBe(posted);
  expect(answered(400)).toBe(1);
  expect(
    sumOf(apiAfter, "txlog_api_produce_request_messages_sum") -
      sumOf(apiBefore, "txlog_api_produce_request_messages_sum"),
  ).toBe(posted);

  const ready = await fetch(`${workerUrl}/ready`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ ready: true, reasons: [], lagMessages: 0 });
});
