// The load generator: `concurrency` loops, each POSTing the next body and
// waiting for the answer before sending another (closed loop), over kept-alive
// connections. The same generator drives the pipeline's API and the bare
// Elysia ceiling, so their figures compare.
import type { Bodies } from "./rows.ts";

export interface LoadOptions {
  url: string;
  bodies: Bodies;
  concurrency: number;
  /** Longest wait for one answer, milliseconds; a request over it counts as failed. */
  requestTimeoutMs: number;
  /** How often a body refused with 503 "overloaded" is retried at most (nothing was accepted then). */
  overloadRetriesMax: number;
  /** Updated as answers come, for the progress line. */
  progress?: LoadProgress;
  /** Authorization header of every POST (`Bearer <API key>`), if any. */
  authorization?: string;
}

export interface LoadProgress {
  sentRows: number;
  acceptedRows: number;
  failedRequests: number;
}

export interface LoadResult {
  requests: number;
  acceptedRequests: number;
  acceptedRows: number;
  /** Answers other than 202 by status (and "error" for no answer), after retries. */
  failures: Record<string, number>;
  overloadRetries: number;
  /** performance.now() at the first send and the last answer. */
  startedAtMs: number;
  endedAtMs: number;
  /** Wall-clock time of the first send (for SQL time bins). */
  startedAt: Date;
  /** Latency of each 202 (the last attempt), milliseconds, unsorted. */
  latenciesMs: Float64Array;
}

/** Wait before retrying an overloaded request, milliseconds. */
const overloadBackoffMs = 50;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { bodies, rows } = options.bodies;
  const progress = options.progress ?? { sentRows: 0, acceptedRows: 0, failedRequests: 0 };
  const latencies = new Float64Array(bodies.length);
  let latencyCount = 0;
  const failures: Record<string, number> = {};
  let next = 0;
  let acceptedRequests = 0;
  let acceptedRows = 0;
  let overloadRetries = 0;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.authorization !== undefined) headers.authorization = options.authorization;

  async function post(body: string): Promise<{ status: number | "error"; text: string }> {
    try {
      const response = await fetch(options.url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(options.requestTimeoutMs),
      });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      return { status: "error", text: (error as Error).message };
    }
  }

  async function loop(): Promise<void> {
    for (;;) {
      const index = next++;
      if (index >= bodies.length) return;
      const body = bodies[index] as string;
      const bodyRows = rows[index] as number;
      progress.sentRows += bodyRows;
      for (let attempt = 0; ; attempt++) {
        const sentMs = performance.now();
        const answer = await post(body);
        const latencyMs = performance.now() - sentMs;
        if (answer.status === 202) {
          latencies[latencyCount++] = latencyMs;
          acceptedRequests++;
          acceptedRows += bodyRows;
          progress.acceptedRows += bodyRows;
          break;
        }
        // Only an overloaded 503 says for sure that nothing was accepted; a
        // timeout 503 may have been written, so it is not sent again.
        if (answer.status === 503 && answer.text.includes('"overloaded"') && attempt < options.overloadRetriesMax) {
          overloadRetries++;
          await Bun.sleep(overloadBackoffMs);
          continue;
        }
        const key = String(answer.status);
        failures[key] = (failures[key] ?? 0) + 1;
        progress.failedRequests++;
        break;
      }
    }
  }

  const startedAt = new Date();
  const startedAtMs = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, loop));
  const endedAtMs = performance.now();
  return {
    requests: bodies.length,
    acceptedRequests,
    acceptedRows,
    failures,
    overloadRetries,
    startedAtMs,
    endedAtMs,
    startedAt,
    latenciesMs: latencies.subarray(0, latencyCount),
  };
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of `values` (sorted in place); zeros when empty. */
export function percentiles(values: Float64Array): Percentiles {
  if (values.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
  values.sort();
  const at = (q: number) =>
    values[Math.min(values.length - 1, Math.max(0, Math.ceil(q * values.length) - 1))] as number;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: values[values.length - 1] as number };
}
