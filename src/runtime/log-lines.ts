// The log lines other programs read (the benchmark, the tests), written and
// parsed here, in one place, so the format and its readers cannot drift apart.
// Each is one JSON line whose `msg` is fixed and whose figures are fields:
//   {"msg":"worker: consuming","topic":T,"groupId":G,"database":D,…}
//   {"msg":"Message Received","messages":N,"bytes":B,"partitions":[P…],"fillMs":F}   (F: batch fill time)
//   {"msg":"DB Committed","inserted":N,"alreadyPresent":D,"deadLettered":L,"writeMs":W,"path":"direct"|"staging"}
//   {"msg":"Produce requests","requests":R,"messages":M,"perRequest":…,"answerMsMean":A}   (the API, on stop)
import type { Logger } from "./logger.ts";

export const logMessages = {
  workerReady: "worker: consuming",
  received: "Message Received",
  committed: "DB Committed",
  produceSummary: "Produce requests",
} as const;

/** A JSON log line as an object, or undefined for anything else (a pretty line, a partial one). */
export function parseLogLine(line: string): Record<string, unknown> | undefined {
  const start = line.indexOf("{");
  if (start < 0) return undefined;
  try {
    const parsed = JSON.parse(line.slice(start)) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function fieldsOf(line: string, msg: string): Record<string, unknown> | undefined {
  if (!line.includes(msg)) return undefined;
  const entry = parseLogLine(line);
  return entry?.msg === msg ? entry : undefined;
}

export interface WorkerReady {
  topic: string;
  groupId: string;
  database: string;
  state: string;
  statusPort: number;
}

export function logWorkerReady(log: Logger, ready: WorkerReady): void {
  log.info(ready, logMessages.workerReady);
}

export function isWorkerReadyLine(line: string): boolean {
  return fieldsOf(line, logMessages.workerReady) !== undefined;
}

/** The status port (/ready, /metrics) a worker's started line names; the benchmark reads /metrics there. */
export function parseWorkerPort(line: string): number | undefined {
  const port = fieldsOf(line, logMessages.workerReady)?.statusPort;
  return typeof port === "number" ? port : undefined;
}

export interface ReceivedLine {
  messages: number;
  bytes: number;
  partitions: number[];
  fillMs: number;
}

export function logReceived(log: Logger, received: ReceivedLine): void {
  log.info(received, logMessages.received);
}

export function parseReceivedLine(line: string): ReceivedLine | undefined {
  const f = fieldsOf(line, logMessages.received);
  if (f === undefined) return undefined;
  return {
    messages: Number(f.messages),
    bytes: Number(f.bytes),
    partitions: Array.isArray(f.partitions) ? f.partitions.map(Number) : [],
    fillMs: Number(f.fillMs),
  };
}

export interface CommittedLine {
  inserted: number;
  alreadyPresent: number;
  deadLettered: number;
  /** Decode, write and offset commit, milliseconds. */
  writeMs: number;
  path: "direct" | "staging";
}

export function logCommitted(log: Logger, committed: CommittedLine): void {
  log.info(committed, logMessages.committed);
}

export function parseCommittedLine(line: string): CommittedLine | undefined {
  const f = fieldsOf(line, logMessages.committed);
  if (f === undefined) return undefined;
  return {
    inserted: Number(f.inserted),
    alreadyPresent: Number(f.alreadyPresent),
    deadLettered: Number(f.deadLettered),
    writeMs: Number(f.writeMs),
    path: f.path === "staging" ? "staging" : "direct",
  };
}

export interface ProduceSummary {
  requests: number;
  messages: number;
  answerMsMean: number;
}

export function logProduceSummary(log: Logger, { requests, messages, answerMsMean }: ProduceSummary): void {
  const perRequest = requests === 0 ? 0 : Number((messages / requests).toFixed(1));
  log.info(
    { requests, messages, perRequest, answerMsMean: Number(answerMsMean.toFixed(2)) },
    logMessages.produceSummary,
  );
}

export function parseProduceSummaryLine(line: string): ProduceSummary | undefined {
  const f = fieldsOf(line, logMessages.produceSummary);
  if (f === undefined) return undefined;
  return { requests: Number(f.requests), messages: Number(f.messages), answerMsMean: Number(f.answerMsMean) };
}
