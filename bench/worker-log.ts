// Reads the per-batch log lines of the workers as they come (their format and
// parsers: src/runtime/log-lines.ts). They give the time of the last commit to the millisecond and where the
// worker's time goes, at no cost to the database. When the format changes the
// benchmark still works from its database polls; only these figures go missing.
// The API's one line on stopping (its produce requests) is read here too.
import {
  isWorkerReadyLine,
  parseCommittedLine,
  parseProduceSummaryLine,
  parseReceivedLine,
  parseWorkerPort,
} from "../src/runtime/log-lines.ts";
import type { ApiProduceFigures, WorkerLogFigures } from "./report.ts";

export class WorkerLog {
  /** performance.now() when the first worker said it consumes (joined its group), if one did. */
  readyAtMs: number | undefined;
  /** Workers that said they consume. */
  readyCount = 0;
  /** Status ports (/metrics) the workers announced. */
  statusPorts: number[] = [];
  /** Rows the worker reported written or dead-lettered so far. */
  settledRows = 0;
  /** performance.now() of the last "DB Committed" line. */
  lastCommitAtMs: number | undefined;
  #batches = 0;
  #batchRows = 0;
  #fillMs = 0;
  #writeMs: number[] = [];

  onLine(line: string, atMs: number): void {
    if (isWorkerReadyLine(line)) {
      this.readyAtMs ??= atMs;
      this.readyCount++;
      const port = parseWorkerPort(line);
      if (port !== undefined) this.statusPorts.push(port);
      return;
    }
    const received = parseReceivedLine(line);
    if (received) {
      this.#fillMs += received.fillMs;
      return;
    }
    const committed = parseCommittedLine(line);
    if (committed) {
      const { inserted, alreadyPresent, deadLettered, writeMs } = committed;
      this.#batches++;
      this.#batchRows += inserted + alreadyPresent + deadLettered;
      this.settledRows += inserted + deadLettered;
      this.#writeMs.push(writeMs);
      this.lastCommitAtMs = atMs;
    }
  }

  figures(): WorkerLogFigures | undefined {
    if (this.#batches === 0) return undefined;
    const sorted = [...this.#writeMs].sort((a, b) => a - b);
    return {
      batches: this.#batches,
      rowsPerBatchMean: this.#batchRows / this.#batches,
      writeSeconds: sorted.reduce((sum, ms) => sum + ms, 0) / 1000,
      fillSeconds: this.#fillMs / 1000,
      writeMsP50: sorted[Math.floor((sorted.length - 1) / 2)] as number,
      writeMsMax: sorted[sorted.length - 1] as number,
    };
  }
}

/** The API's last line on stopping, as figures for the report. */
export function apiProduceFigures(line: string): ApiProduceFigures | undefined {
  const summary = parseProduceSummaryLine(line);
  if (!summary) return undefined;
  const { requests, messages, answerMsMean } = summary;
  return { requests, messagesPerRequestMean: requests === 0 ? 0 : messages / requests, answerMsMean };
}
