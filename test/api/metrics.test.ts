// The API's GET /metrics against a real broker: every answer counted under
// its route template and the status the client got, 503s by their cause, and
// the produce requests that carried the 202s.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { ApiMetrics, metricsPlugin } from "../../src/api/metrics.ts";
import { type RunningApi, startApi } from "../../src/api.ts";
import { metricSum, parseMetricsText } from "../../src/runtime/metrics.ts";
import { newTransactionId } from "../../src/transaction/ids.ts";
import { paymentBody } from "../support/processes.ts";
import { testConfig, testTopics } from "../support/run.ts";

const queuedMax = 5;
const config = testConfig({ port: 0, produceQueuedMessagesMax: queuedMax, ...testTopics("api-metrics") });
let api: RunningApi;
beforeAll(async () => {
  api = await startApi(config);
});
afterAll(() => api.stop());

async function scrape(): Promise<Map<string, number>> {
  const response = await fetch(`${api.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return parseMetricsText(await response.text());
}

const answers = (method: string, route: string, status: number) =>
  `txlog_api_request_duration_seconds_count{method="${method}",route="${route}",status="${status}"}`;

function post(path: string, body: unknown) {
  return fetch(`${api.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

test("answers are counted by method, route template and the status sent; 503s by cause; produce requests and queue", async () => {
  const before = await scrape();
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await post("/transaction", paymentBody)).status);
  statuses.push((await post("/transaction", { ...paymentBody, amount: "1.001" })).status);
  // More transactions than may wait for a produce request: refused at once, 503 overloaded.
  statuses.push(
    (
      await post(
        "/transactions",
        Array.from({ length: queuedMax + 1 }, () => paymentBody),
      )
    ).status,
  );
  statuses.push((await fetch(`${api.url}/transactions/${newTransactionId()}`)).status);
  statuses.push((await fetch(`${api.url}/no-such-route-${newTransactionId()}`)).status);
  statuses.push((await fetch(`${api.url}/transaction`, { method: "PROPFIND" })).status);
  expect(statuses).toEqual([202, 202, 202, 422, 503, 404, 404, 404]);
  // Counted after the answer went out.
  await Bun.sleep(100);
  const after = await scrape();
  const moved = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

  expect(moved(answers("POST", "/transaction", 202))).toBe(3);
  expect(moved(answers("POST", "/transaction", 422))).toBe(1);
  expect(moved(answers("POST", "/transactions", 503))).toBe(1);
  // The template, never the raw path; a path no route matches is one label.
  expect(moved(answers("GET", "/transactions/:id", 404))).toBe(1);
  expect(moved(answers("GET", "unmatched", 404))).toBe(1);
  expect([...after.keys()].some((key) => key.includes("no-such-route"))).toBe(false);
  // Bun takes the WebDAV methods too; those are no label of their own.
  expect(moved(answers("other", "unmatched", 404))).toBe(1);
  expect(moved('txlog_api_unavailable_total{cause="overloaded"}')).toBe(1);
  // Latency: the sum grows with the count.
  expect(
    (after.get(answers("POST", "/transaction", 202).replace("_count", "_sum")) ?? 0) -
      (before.get(answers("POST", "/transaction", 202).replace("_count", "_sum")) ?? 0),
  ).toBeGreaterThan(0);

  // The three 202s, one at a time: three produce requests of one message each, all acknowledged.
  const acknowledged = 'txlog_api_produce_answer_seconds_count{outcome="acknowledged"}';
  expect(moved(acknowledged)).toBe(3);
  expect(moved("txlog_api_produce_request_messages_sum")).toBe(3);
  expect(moved("txlog_api_produce_request_messages_count")).toBe(3);
  expect(after.get("txlog_api_produce_queue_messages")).toBe(0);
  expect(metricSum(after, "txlog_process_cpu_seconds_total")).toBeGreaterThan(0);
});

test("a handler's own Response is counted with its status (Elysia's set.status says 200 there)", async () => {
  const metrics = new ApiMetrics();
  const app = new Elysia()
    .use(metricsPlugin(metrics))
    .get("/made", () => new Response("made", { status: 201 }))
    .listen({ hostname: "127.0.0.1", port: 0 });
  try {
    expect((await fetch(`http://127.0.0.1:${app.server?.port}/made`)).status).toBe(201);
    await Bun.sleep(50);
    const series = parseMetricsText(await metrics.registry.metrics());
    expect(series.get(answers("GET", "/made", 201))).toBe(1);
    expect(series.get(answers("GET", "/made", 200))).toBeUndefined();
  } finally {
    await app.stop();
  }
});
