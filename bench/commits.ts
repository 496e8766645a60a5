// Waiting for the pipeline to commit: the rows in PostgreSQL, counted rarely,
// and the workers' own reports of what they settled, looked at often.
import type { Sql } from "../src/postgres/connection.ts";
import type { Child } from "./children.ts";
import { checkInterrupted } from "./cleanup.ts";

/** Give up waiting for commits when the count has not moved for this long, milliseconds. */
const commitStallMsMax = 120_000;
/** How often the rows in PostgreSQL are counted while the workers' log does not already say the run is done, ms. */
const pollIntervalMs = 10_000;
/** How often the workers' settled-row count is looked at, ms (free: a number in memory). */
const settledCheckMs = 20;

async function countRows(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM transactions`;
  return Number(row?.n ?? 0);
}

/**
 * Waits until the rows in PostgreSQL reach the target (known once the load is
 * over), the count stalls, the worker exits, or the run is interrupted. The
 * workers' own log lines say how many rows they settled, at no cost; the
 * database is counted only to confirm the target, and as a fallback every
 * `pollIntervalMs` (a count(*) of a million rows is a parallel scan: polling it
 * often took CPU from the pipeline being measured).
 */
export class CommitPoller {
  count = 0;
  /** performance.now() of the count that first saw the target reached. */
  reachedAtMs: number | undefined;
  target: number | undefined;
  readonly done: Promise<void>;
  #stopped = false;
  #lastChangeMs = performance.now();
  #seen = -1;

  constructor(
    private readonly sql: Sql,
    private readonly workers: Child[],
    /** Rows the workers reported written or dead-lettered so far. */
    private readonly settledRows: () => number,
  ) {
    this.done = this.#run();
    this.done.catch(() => {});
  }

  stop(): void {
    this.#stopped = true;
  }

  async #run(): Promise<void> {
    let countedAtMs = Number.NEGATIVE_INFINITY;
    for (;;) {
      if (this.#stopped) return;
      checkInterrupted();
      const settled = this.settledRows();
      const confirm = this.target !== undefined && settled >= this.target;
      if (confirm || performance.now() - countedAtMs >= pollIntervalMs) {
        this.count = await countRows(this.sql);
        countedAtMs = performance.now();
        if (this.target !== undefined && this.count >= this.target) {
          this.reachedAtMs = performance.now();
          return;
        }
      }
      this.#checkProgress(Math.max(this.count, settled));
      // The workers say everything is written but the count disagrees: wait a
      // full interval before counting again.
      await Bun.sleep(confirm ? pollIntervalMs : settledCheckMs);
    }
  }

  /** Throws when a worker exited or, once the target is known, nothing moved for commitStallMsMax. */
  #checkProgress(progress: number): void {
    if (progress !== this.#seen) {
      this.#seen = progress;
      this.#lastChangeMs = performance.now();
    }
    const exited = this.workers.find((worker) => worker.exited);
    if (exited) {
      throw new Error(`${exited.name} exited (code ${exited.process.exitCode}); last output:\n${exited.tail()}`);
    }
    if (this.target !== undefined && performance.now() - this.#lastChangeMs > commitStallMsMax) {
      throw new Error(`no new rows for ${commitStallMsMax / 1000} s: ${this.count} of ${this.target} committed`);
    }
  }
}
