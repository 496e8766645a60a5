// Reads the per-batch log lines of the workers as they come:
//   Message Received: N messages (B bytes) from partitions P in F ms   (F: batch fill time)
//   DB Committed: N rows (D already present, L dead-lettered) in W ms, PATH  (W: decode, write, offset commit)
// They give the time of the last commit to the millisecond and where the
// worker's time goes, at no cost to the database. When the format changes the
// benchmark still works from its database polls; only these figures go missing.
// The API's one line on stopping (its produce requests) is read here too.
import type { ApiProduceFigures, WorkerLogFigures } from "./report.ts";

const receivedLine = /Message Received: (\d+) messages .* in (\d+) ms/;
const committedLine = /DB Committed: (\d+) rows \((\d+) already present, (\d+) dead-lettered\) in (\d+) ms/;
const readyLine = /^worker: consuming /;

export class WorkerLog {
  /** performance.now() when the first worker said it consumes (joined its group), if one did. */
  readyAtMs: number | undefined;
  /** Workers that said they consume. */
  readyCount = 0;
  /** Rows the worker reported written or dead-lettered so far. */
  settledRows = 0;
  /** performance.now() of the last "DB Committed" line. */
  lastCommitAtMs: number | undefined;
  #batches = 0;
  #batchRows = 0;
  #fillMs = 0;
  #writeMs: number[] = [];

  onLine(line: string, atMs: number): void {
    if (readyLine.test(line)) {
      this.readyAtMs ??= atMs;
      this.readyCount++;
      return;
    }
    const received = receivedLine.exec(line);
    if (received) {
      this.#fillMs += Number(received[2]);
      return;
    }
    const committed = committedLine.exec(line);
    if (committed) {
      const [inserted, present, letters, ms] = committed.slice(1).map(Number) as [number, number, number, number];
      this.#batches++;
      this.#batchRows += inserted + present + letters;
      this.settledRows += inserted + letters;
      this.#writeMs.push(ms);
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

/** The API's last line on stopping: `Produce requests: R carrying M messages (… per request), answered in A ms on average`. */
const produceLine = /Produce requests: (\d+) carrying (\d+) messages .* answered in ([\d.]+) ms/;

export function apiProduceFigures(line: string): ApiProduceFigures | undefined {
  const match = produceLine.exec(line);
  if (!match) return undefined;
  const [requests, messages, answerMsMean] = match.slice(1).map(Number) as [number, number, number];
  return { requests, messagesPerRequestMean: requests === 0 ? 0 : messages / requests, answerMsMean };
}
