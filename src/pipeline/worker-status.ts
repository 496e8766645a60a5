// What the worker is doing, for its readiness and its log: connecting until
// its first consumer joins the group, running, degraded while Kafka or
// PostgreSQL does not answer (it keeps retrying), stopping, stopped. Each
// change is one log line, so an outage is one episode in the log, not a line
// per failed request.

import type { Logger } from "../runtime/logger.ts";

export type WorkerState = "connecting" | "running" | "degraded" | "stopping" | "stopped";
export type Dependency = "kafka" | "postgres";

export interface WorkerStatusSnapshot {
  state: WorkerState;
  /** What does not answer, and the last error seen from it. */
  problems: Partial<Record<Dependency, string>>;
  /** When a batch was last written, milliseconds since the epoch (undefined: none yet). */
  lastWriteAtMs: number | undefined;
  /** Partitions of the topic this worker owns (none until it joined, or after its consumer failed). */
  partitions: number[];
  /** When they were assigned, milliseconds since the epoch. */
  assignedAtMs: number | undefined;
  /** Messages not yet committed on them, as of the last lag poll (undefined: not measured, see lagProblem). */
  lagMessages: number | undefined;
  /** Why the lag is not known, when the last poll failed. */
  lagProblem: string | undefined;
}

export class WorkerStatus {
  #phase: "connecting" | "running" | "stopping" | "stopped" = "connecting";
  readonly #problems = new Map<Dependency, string>();
  #lastWriteAtMs: number | undefined;
  #degradedSinceMs = 0;
  #partitions: number[] = [];
  #assignedAtMs: number | undefined;
  #lagMessages: number | undefined;
  #lagProblem: string | undefined;
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  get state(): WorkerState {
    if (this.#phase === "running" && this.#problems.size > 0) return "degraded";
    if (this.#phase === "connecting" && this.#problems.size > 0) return "degraded";
    return this.#phase;
  }

  snapshot(): WorkerStatusSnapshot {
    return {
      state: this.state,
      problems: Object.fromEntries(this.#problems),
      lastWriteAtMs: this.#lastWriteAtMs,
      partitions: this.#partitions,
      assignedAtMs: this.#assignedAtMs,
      lagMessages: this.#lagMessages,
      lagProblem: this.#lagProblem,
    };
  }

  /** The group assigned these partitions (none: the consumer failed or left); other partitions' lag is measured anew. */
  assigned(partitions: number[], atMs = Date.now()): void {
    const sorted = [...partitions].sort((a, b) => a - b);
    // A rebalance that left this worker its partitions changes nothing it reports.
    if (sorted.length > 0 && sorted.join(",") === this.#partitions.join(",")) return;
    this.#partitions = sorted;
    this.#assignedAtMs = atMs;
    this.#lagMessages = undefined;
    this.#lagProblem = undefined;
  }

  /** A lag poll answered: messages not yet committed on the owned partitions. */
  lagMeasured(messages: number): void {
    this.#lagMessages = messages;
    this.#lagProblem = undefined;
  }

  /** A lag poll failed. */
  lagUnknown(problem: string): void {
    this.#lagMessages = undefined;
    this.#lagProblem = problem;
  }

  /** A consumer joined its group: consuming. */
  running(reason: string): void {
    if (this.#phase === "stopping" || this.#phase === "stopped") return;
    this.#problems.delete("kafka");
    this.#change(() => {
      this.#phase = "running";
    }, reason);
  }

  /** `dependency` does not answer; the worker keeps retrying. */
  failing(dependency: Dependency, reason: string): void {
    if (this.#problems.has(dependency)) {
      this.#problems.set(dependency, reason);
      return;
    }
    this.#change(() => this.#problems.set(dependency, reason), `${dependency}: ${reason}`);
  }

  /** `dependency` answers again. */
  recovered(dependency: Dependency, reason: string): void {
    if (!this.#problems.has(dependency)) return;
    this.#change(() => this.#problems.delete(dependency), `${dependency}: ${reason}`);
  }

  /** A batch was written (the database answers). */
  wrote(atMs = Date.now()): void {
    this.#lastWriteAtMs = atMs;
    this.recovered("postgres", "a batch was written");
  }

  stopping(): void {
    this.#change(() => {
      this.#phase = "stopping";
    }, "stop requested");
  }

  stopped(): void {
    this.#change(() => {
      this.#phase = "stopped";
    }, "closed");
  }

  #change(apply: () => void, reason: string): void {
    const was = this.state;
    apply();
    const now = this.state;
    if (now === was) return;
    if (now === "degraded") this.#degradedSinceMs = Date.now();
    const after =
      was === "degraded" ? ` after ${((Date.now() - this.#degradedSinceMs) / 1000).toFixed(1)} s degraded` : "";
    const line = `worker: ${now}${after}: ${reason}`;
    if (now === "degraded") this.#log.warn({ state: now, reason }, line);
    else this.#log.info({ state: now, reason }, line);
  }
}
