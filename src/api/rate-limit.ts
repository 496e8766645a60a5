// Per-key rate limits: a token bucket per API key id (one for every client
// together when no key is configured), API_KEY_REQUESTS_PER_S sustained and
// API_KEY_BURST_REQUESTS at once. Buckets exist only for configured ids, so
// their number is bounded by the keyring. A batch POST is one request: the
// bucket guards the API's per-request work; a batch's size has its own
// limits (REQUEST_TRANSACTIONS_MAX, BODY_BYTES_MAX).
import { TokenBucket } from "limiter";

export interface RateLimitOptions {
  requestsPerS: number;
  burstRequests: number;
}

/** Bucket name of the open mode (no key configured): no key id can be empty. */
export const openBucket = "";

export class RateLimits {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(ids: readonly string[], options: RateLimitOptions) {
    for (const id of ids.length === 0 ? [openBucket] : ids) {
      const bucket = new TokenBucket({
        bucketSize: options.burstRequests,
        tokensPerInterval: options.requestsPerS,
        interval: "second",
      });
      // The library starts a bucket empty; a key starts with its whole burst.
      bucket.content = options.burstRequests;
      this.buckets.set(id, bucket);
    }
  }

  /**
   * Takes one request from `id`'s bucket: 0 when it may go on, else the whole
   * seconds until it may (for Retry-After, at least 1).
   */
  take(id: string): number {
    const bucket = this.buckets.get(id);
    if (bucket === undefined) throw new RangeError(`no rate limit bucket for API key id ${JSON.stringify(id)}`);
    if (bucket.tryRemoveTokens(1)) return 0;
    return Math.max(1, Math.ceil(bucket.getWaitTime(1) / 1000));
  }
}
