// The dashboard's two rates, per second over the last DASHBOARD_CHART_SECONDS.
// Ingest: transactions this API process accepted (202), counted on the hot
// path with one increment into a fixed ring of per-second buckets. Commit:
// how fast the worker group's committed Kafka offsets advance, sampled when
// the dashboard reads the lag anyway. An offset is committed only after its
// rows are stored or rejected in PostgreSQL, so this is the rate at which
// transactions reach their final status, across every worker, also while a
// backlog accepted long ago drains (a query bounded by accepted_at would miss
// those rows), and it costs PostgreSQL nothing.

/** Transactions accepted per second by this process, for the last `seconds` seconds. */
export class IngestRate {
  readonly #counts: Float64Array;
  readonly #stamps: Float64Array;

  constructor(readonly seconds: number) {
    this.#counts = new Float64Array(seconds);
    this.#stamps = new Float64Array(seconds).fill(-1);
  }

  /** `count` transactions were accepted now. */
  record(count: number, nowMs = Date.now()): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % this.#counts.length;
    if (this.#stamps[slot] !== second) {
      this.#stamps[slot] = second;
      this.#counts[slot] = 0;
    }
    this.#counts[slot] = (this.#counts[slot] as number) + count;
  }

  /** Accepted per second for each of `seconds` (whole epoch seconds); 0 where none or outside the ring. */
  series(seconds: number[]): number[] {
    return seconds.map((second) => {
      const slot = second % this.#counts.length;
      return this.#stamps[slot] === second ? (this.#counts[slot] as number) : 0;
    });
  }
}

/** The worker group's committed offsets at one moment, by partition. */
export interface OffsetSample {
  atMs: number;
  offsets: Map<number, bigint>;
}

/**
 * Committed-offset samples of the last `seconds` seconds, at most one per
 * second kept, so the history is bounded whatever the polling.
 */
export class CommitRate {
  #samples: OffsetSample[] = [];

  constructor(readonly seconds: number) {}

  add(sample: OffsetSample): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && Math.floor(last.atMs / 1000) === Math.floor(sample.atMs / 1000)) this.#samples.pop();
    this.#samples.push(sample);
    const oldestMs = sample.atMs - this.seconds * 1000;
    // seconds + 1 samples span `seconds` seconds.
    while (this.#samples.length > this.seconds + 1 || (this.#samples[0]?.atMs ?? oldestMs) < oldestMs) {
      this.#samples.shift();
    }
  }

  /**
   * Offsets committed per second for each of `seconds`: the advance between
   * two samples spread evenly over the seconds between them; null where no
   * two samples span the second (before the first sample, or across a reset).
   */
  series(seconds: number[]): (number | null)[] {
    const result: (number | null)[] = seconds.map(() => null);
    const first = seconds[0] ?? 0;
    for (let i = 1; i < this.#samples.length; i++) {
      const before = this.#samples[i - 1] as OffsetSample;
      const after = this.#samples[i] as OffsetSample;
      const advanced = advance(before.offsets, after.offsets);
      if (advanced === undefined) continue;
      const fromSecond = Math.floor(before.atMs / 1000) + 1;
      const toSecond = Math.floor(after.atMs / 1000);
      const perSecond = advanced / ((after.atMs - before.atMs) / 1000);
      for (let second = fromSecond; second <= toSecond; second++) {
        const index = second - first;
        if (index >= 0 && index < result.length) result[index] = perSecond;
      }
    }
    return result;
  }
}

/**
 * Offsets advanced between two samples, over the partitions both have (a
 * partition's first commit is left out: where the group started on it is
 * unknown); undefined when one moved back (a reset group).
 */
function advance(before: Map<number, bigint>, after: Map<number, bigint>): number | undefined {
  let total = 0n;
  for (const [partition, offset] of after) {
    const previous = before.get(partition);
    if (previous === undefined) continue;
    if (offset < previous) return undefined;
    total += offset - previous;
  }
  return Number(total);
}

/** The whole epoch seconds of the chart, oldest first, ending with the last complete one. */
export function chartSeconds(seconds: number, nowMs = Date.now()): number[] {
  const last = Math.floor(nowMs / 1000) - 1;
  return Array.from({ length: seconds }, (_, i) => last - seconds + 1 + i);
}
