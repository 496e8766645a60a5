import { afterAll, expect, test } from "bun:test";
import { WorkerMetrics } from "../../src/pipeline/metrics.ts";
import { startStatusServer } from "../../src/pipeline/status-server.ts";
import { WorkerStatus } from "../../src/pipeline/worker-status.ts";
import { capturedLog, silentLog } from "../support/logs.ts";

const logs = capturedLog();
const status = new WorkerStatus(logs.log);
const metrics = new WorkerMetrics();
const limits = { lagMessagesMax: 1000, writeAgeMsMax: 60_000 };
const server = startStatusServer({ status, limits, registry: metrics.registry, hostname: "127.0.0.1", port: 0 });
const url = `http://127.0.0.1:${server.port}`;
afterAll(() => server.stop());

async function ready() {
  const response = await fetch(`${url}/ready`);
  return {
    status: response.status,
    body: (await response.json()) as { ready: boolean; reasons: string[]; state: string; problems: object },
  };
}

test("/ready follows the worker's status: 503 connecting, 200 running, 503 degraded naming the dependency; /health stays 200", async () => {
  expect((await ready()).status).toBe(503);
  status.running("in group g, generation 1, partitions 0,1,2");
  status.assigned([0, 1, 2]);
  status.lagMeasured(0);
  expect(await ready()).toEqual({
    status: 200,
    body: expect.objectContaining({ ready: true, reasons: [], state: "running", problems: {} }),
  });
  status.failing("postgres", "database write failed, retrying: ECONNREFUSED");
  status.failing("postgres", "database write failed, retrying: ECONNREFUSED");
  const degraded = await ready();
  expect(degraded.status).toBe(503);
  expect(degraded.body).toMatchObject({
    ready: false,
    state: "degraded",
    problems: { postgres: expect.stringContaining("ECONNREFUSED") },
    reasons: [expect.stringContaining("postgres: database write failed")],
  });
  expect((await fetch(`${url}/health`)).status).toBe(200);
  status.wrote();
  expect((await ready()).status).toBe(200);
  // One line per change, not one per failed attempt.
  expect(logs.messages().filter((msg) => msg.startsWith("worker: degraded"))).toHaveLength(1);
  expect(logs.messages().at(-1)).toMatch(/^worker: running after [\d.]+ s degraded: postgres: a batch was written$/);
  status.stopping();
  expect((await ready()).body.state).toBe("stopping");
});

test("/metrics answers the registry in Prometheus's text format; an unknown path is a 404 naming the routes", async () => {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  const text = await response.text();
  expect(text).toContain("# TYPE txlog_worker_rows_written_total counter");
  expect(text).toMatch(/^txlog_process_resident_memory_bytes \d+/m);
  const missing = await fetch(`${url}/nope`);
  expect(missing.status).toBe(404);
  expect(((await missing.json()) as { message: string }).message).toContain("/metrics");
});

test("a rebalance that keeps the worker's partitions keeps its lag; new partitions are measured anew, none is not ready", () => {
  const own = new WorkerStatus(silentLog);
  own.running("joined");
  own.assigned([2, 0]);
  own.lagMeasured(7);
  own.assigned([0, 2]);
  expect(own.snapshot()).toMatchObject({ partitions: [0, 2], lagMessages: 7 });
  own.assigned([0, 1, 2]);
  expect(own.snapshot()).toMatchObject({ partitions: [0, 1, 2], lagMessages: undefined });
  own.lagMeasured(0);
  own.assigned([]);
  expect(own.snapshot()).toMatchObject({ partitions: [], lagMessages: undefined });
});
