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
}

export class WorkerStatus {
  #phase: "connecting" | "running" | "stopping" | "stopped" = "connecting";
  readonly #problems = new Map<Dependency, string>();
  #lastWriteAtMs: number | undefined;
  #degradedSinceMs = 0;
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
    return { state: this.state, problems: Object.fromEntries(this.#problems), lastWriteAtMs: this.#lastWriteAtMs };
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
