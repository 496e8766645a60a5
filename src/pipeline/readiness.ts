// Whether the worker is doing its job, for GET /ready on its port: it runs
// (Kafka and PostgreSQL answer), owns partitions, is not far behind
// (WORKER_READY_LAG_MAX), and, with messages waiting, wrote a batch recently
// (WORKER_READY_WRITE_AGE_MS_MAX). An idle worker (lag 0) is ready however
// long ago it last wrote. Each unmet condition is one line of `reasons`.
import type { WorkerStatusSnapshot } from "./worker-status.ts";

export interface ReadinessLimits {
  /** Messages not yet committed on the owned partitions at most. */
  lagMessagesMax: number;
  /** While messages wait, longest time since the last batch written (or since the assignment), milliseconds. */
  writeAgeMsMax: number;
}

export interface Readiness {
  ready: boolean;
  /** What is wrong, one line each (empty when ready). */
  reasons: string[];
}

export function readiness(snapshot: WorkerStatusSnapshot, limits: ReadinessLimits, nowMs = Date.now()): Readiness {
  const reasons: string[] = [];
  if (snapshot.state !== "running") {
    const problems = Object.entries(snapshot.problems).map(([dependency, problem]) => `${dependency}: ${problem}`);
    reasons.push(`worker is ${snapshot.state}${problems.length > 0 ? ` (${problems.join("; ")})` : ""}`);
    return { ready: false, reasons };
  }
  if (snapshot.partitions.length === 0) reasons.push("no partitions assigned to this worker");
  const lag = snapshot.lagMessages;
  if (lag === undefined) {
    reasons.push(`lag not measured${snapshot.lagProblem === undefined ? " yet" : `: ${snapshot.lagProblem}`}`);
  } else {
    if (lag > limits.lagMessagesMax) {
      reasons.push(`lag of ${lag} messages is over WORKER_READY_LAG_MAX (${limits.lagMessagesMax})`);
    }
    // A worker just assigned its partitions has had no time to write yet.
    const ageMs = nowMs - Math.max(snapshot.lastWriteAtMs ?? 0, snapshot.assignedAtMs ?? nowMs);
    if (lag > 0 && ageMs > limits.writeAgeMsMax) {
      reasons.push(
        `${lag} messages wait and no batch was written for ${Math.round(ageMs / 1000)} s (WORKER_READY_WRITE_AGE_MS_MAX ${limits.writeAgeMsMax})`,
      );
    }
  }
  return { ready: reasons.length === 0, reasons };
}
