import { afterAll, expect, test } from "bun:test";
import { startStatusServer } from "../../src/pipeline/status-server.ts";
import { WorkerStatus } from "../../src/pipeline/worker-status.ts";
import { capturedLog } from "../support/logs.ts";

const logs = capturedLog();
const status = new WorkerStatus(logs.log);
const server = startStatusServer(status, "127.0.0.1", 0);
const url = `http://127.0.0.1:${server.port}`;
afterAll(() => server.stop());

async function ready() {
  const response = await fetch(`${url}/ready`);
  return { status: response.status, body: (await response.json()) as { state: string; problems: object } };
}

test("/ready follows the worker's status: 503 connecting, 200 running, 503 degraded naming the dependency; /health stays 200", async () => {
  expect((await ready()).status).toBe(503);
  status.running("in group g, generation 1, partitions 0,1,2");
  expect(await ready()).toEqual({ status: 200, body: expect.objectContaining({ state: "running", problems: {} }) });
  status.failing("postgres", "database write failed, retrying: ECONNREFUSED");
  status.failing("postgres", "database write failed, retrying: ECONNREFUSED");
  const degraded = await ready();
  expect(degraded.status).toBe(503);
  expect(degraded.body).toMatchObject({
    state: "degraded",
    problems: { postgres: expect.stringContaining("ECONNREFUSED") },
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
