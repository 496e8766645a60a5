// Retrying a step that may pass later (a database write while PostgreSQL is
// restarting, a dead-letter produce while a broker is away), with an
// exponential backoff between attempts, cut short by stop.

export interface RetryOptions {
  /** First wait after a failure, milliseconds; doubles after each further failure. */
  backoffMsMin: number;
  /** Longest wait between attempts, milliseconds. */
  backoffMsMax: number;
  /** Aborted on stop: the wait ends and the step is given up. */
  signal: AbortSignal;
  /** Errors no retry can fix (txlog itself is wrong): thrown at once. */
  isFatal(error: unknown): boolean;
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
      const waitMs = Math.min(options.backoffMsMax, options.backoffMsMin * 2 ** (failures - 1));
      options.onFailure(failures, waitMs, error);
      // Awaiting keeps the event loop free: the consumer goes on heartbeating.
      await sleep(waitMs, options.signal);
      if (options.signal.aborted) return undefined;
    }
  }
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
