import { expect, test } from "bun:test";
import { readiness } from "../../src/pipeline/readiness.ts";
import type { WorkerStatusSnapshot } from "../../src/pipeline/worker-status.ts";

const limits = { lagMessagesMax: 1000, writeAgeMsMax: 60_000 };
const nowMs = 1_000_000_000;
const running: WorkerStatusSnapshot = {
  state: "running",
  problems: {},
  lastWriteAtMs: undefined,
  partitions: [0, 1, 2],
  assignedAtMs: nowMs - 10 * 60_000,
  lagMessages: 0,
  lagProblem: undefined,
};
const judge = (change: Partial<WorkerStatusSnapshot>) => readiness({ ...running, ...change }, limits, nowMs);

test("an idle worker (lag 0) is ready however long ago it last wrote, or if it never did", () => {
  expect(judge({})).toEqual({ ready: true, reasons: [] });
  expect(judge({ lastWriteAtMs: nowMs - 3_600_000 })).toEqual({ ready: true, reasons: [] });
});

test("not running: 503 with the state and what does not answer", () => {
  expect(judge({ state: "connecting" })).toEqual({ ready: false, reasons: ["worker is connecting"] });
  expect(judge({ state: "degraded", problems: { kafka: "consumer failed" } })).toEqual({
    ready: false,
    reasons: ["worker is degraded (kafka: consumer failed)"],
  });
});

test("no partitions assigned, or a lag not measured, is not ready", () => {
  expect(judge({ partitions: [] }).reasons).toEqual(["no partitions assigned to this worker"]);
  expect(judge({ lagMessages: undefined }).reasons).toEqual(["lag not measured yet"]);
  expect(judge({ lagMessages: undefined, lagProblem: "Kafka timeout" }).reasons).toEqual([
    "lag not measured: Kafka timeout",
  ]);
});

test("a lag over WORKER_READY_LAG_MAX is not ready; at the limit it is", () => {
  const recent = { lastWriteAtMs: nowMs - 1000 };
  expect(judge({ ...recent, lagMessages: 1000 }).ready).toBe(true);
  expect(judge({ ...recent, lagMessages: 1001 })).toEqual({
    ready: false,
    reasons: ["lag of 1001 messages is over WORKER_READY_LAG_MAX (1000)"],
  });
});

test("messages waiting and no write within WORKER_READY_WRITE_AGE_MS_MAX is not ready; a fresh assignment gets that long", () => {
  expect(judge({ lagMessages: 5, lastWriteAtMs: nowMs - 60_000 }).ready).toBe(true);
  expect(judge({ lagMessages: 5, lastWriteAtMs: nowMs - 61_000 })).toEqual({
    ready: false,
    reasons: ["5 messages wait and no batch was written for 61 s (WORKER_READY_WRITE_AGE_MS_MAX 60000)"],
  });
  // Never wrote: counted from the assignment.
  expect(judge({ lagMessages: 5, assignedAtMs: nowMs - 1000 }).ready).toBe(true);
  expect(judge({ lagMessages: 5 }).ready).toBe(false);
});
