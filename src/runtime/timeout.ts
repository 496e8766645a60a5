// One bound for any promise: health checks, metadata probes and the worker's
// COPY use it. (The API's wait for Kafka's ack is bounded by the produce
// batcher itself: one timer for all submits, not one per request.)

/**
 * Settles as `promise` does, or rejects after `ms` milliseconds with
 * `onTimeout()`, or an Error saying "<what> timed out after <ms> ms".
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: string | (() => Error)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(typeof onTimeout === "string" ? new Error(`${onTimeout} timed out after ${ms} ms`) : onTimeout()),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
