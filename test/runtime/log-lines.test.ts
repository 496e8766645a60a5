import { expect, test } from "bun:test";
import { WorkerLog } from "../../bench/worker-log.ts";
import {
  isWorkerReadyLine,
  logCommitted,
  logProduceSummary,
  logReceived,
  logWorkerReady,
  parseCommittedLine,
  parseProduceSummaryLine,
  parseReceivedLine,
} from "../../src/runtime/log-lines.ts";
import { capturedLog } from "../support/logs.ts";

test("the lines the bench reads are JSON with their figures as fields, and its parsers read them back", () => {
  const { log, lines } = capturedLog();
  logWorkerReady(log.child({ role: "worker" }), {
    topic: "t",
    groupId: "g",
    database: "d",
    state: "running",
    statusPort: 8001,
  });
  logReceived(log, { messages: 7, bytes: 952, partitions: [0, 2], fillMs: 12 });
  logCommitted(log, { inserted: 6, alreadyPresent: 1, deadLettered: 0, writeMs: 9, path: "staging" });
  logProduceSummary(log, { requests: 3, messages: 10, answerMsMean: 1.23456 });
  log.info("Message Received is not this line's message");
  expect(lines).toHaveLength(5);
  expect(JSON.parse(lines[1] as string)).toMatchObject({ level: 30, msg: "Message Received", messages: 7 });
  expect(lines.map(isWorkerReadyLine)).toEqual([true, false, false, false, false]);
  expect(lines.map(parseReceivedLine)[1]).toEqual({ messages: 7, bytes: 952, partitions: [0, 2], fillMs: 12 });
  expect(lines.map(parseReceivedLine).filter(Boolean)).toHaveLength(1);
  expect(parseCommittedLine(lines[2] as string)).toEqual({
    inserted: 6,
    alreadyPresent: 1,
    deadLettered: 0,
    writeMs: 9,
    path: "staging",
  });
  expect(parseProduceSummaryLine(lines[3] as string)).toEqual({ requests: 3, messages: 10, answerMsMean: 1.23 });
  // A pretty line, or any other text, is no figure.
  expect(parseCommittedLine("[12:00:00.000] INFO: DB Committed")).toBeUndefined();

  const workerLog = new WorkerLog();
  for (const [index, line] of lines.entries()) workerLog.onLine(line, 1000 + index);
  expect(workerLog.readyCount).toBe(1);
  expect(workerLog.settledRows).toBe(6);
  expect(workerLog.lastCommitAtMs).toBe(1002);
  expect(workerLog.figures()).toMatchObject({ batches: 1, rowsPerBatchMean: 7, fillSeconds: 0.012 });
});
