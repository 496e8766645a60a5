// Retrying a step that may pass later (a database write while PostgreSQL is
// restarting, a dead-letter produce or a new consumer while a broker is
// away), with a capped, jittered exponential backoff between attempts, cut
// short by stop.

export interface RetryOptions {
  /** First wait after a failure, milliseconds; doubles after each further failure. */
  backoffMsMin: number;
  /** Longest wait between attempts, milliseconds. */
  backoffMsMax: number;
  /** Aborted on stop: the wait ends and the step is given up. */
  signal: AbortSignal;
  /** Errors no retry can fix (txlog itself is wrong): thrown at once. */
  isFatal(error: unknown): boolean;
  /**
   * Asked after each failure: an error to throw instead of retrying again
   * (one retrying has shown it cannot fix), or undefined to go on.
   */
  giveUp?(error: unknown, failures: number): Error | undefined;
  /** Told of every failed attempt before its wait. */
  onFailure(failures: number, waitMs: number, error: unknown): void;
}

/** Runs `attempt` until it succeeds; undefined when the signal aborted a wait between attempts. */
export async function retrying<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T | undefined> {
  for (let failures = 1; ; failures++) {
    try {
      return await attempt();
    } catch (error) {
      if (options.isFatal(error)) throw error;
      const hopeless = options.giveUp?.(error, failures);
      if (hopeless !== undefined) throw hopeless;
      const waitMs = backoffMs(failures, options.backoffMsMin, options.backoffMsMax);
      options.onFailure(failures, waitMs, error);
      // Awaiting keeps the event loop free: the consumer goes on heartbeating.
      await sleep(waitMs, options.signal);
      if (options.signal.aborted) return undefined;
    }
  }
}

/**
 * The wait after the `failures`-th failure in a row: doubling from `minMs`,
 * capped at `maxMs`, drawn from the upper half of that ("equal jitter"), so
 * workers failed by one outage do not all come back at the same instant.
 */
export function backoffMs(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener("abort", finish);
  });
}
