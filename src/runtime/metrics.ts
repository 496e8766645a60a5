// What the API and the worker share for their GET /metrics: one Prometheus
// registry per process (prom-client), the process's own figures (CPU, memory,
// file descriptors, event-loop delay) under the txlog_ prefix, and the
// answer in Prometheus's text format. Each role defines its metrics in a
// module of its own (src/api/metrics.ts, src/pipeline/metrics.ts).
import { collectDefaultMetrics, type Metric, Registry } from "prom-client";

export const metricPrefix = "txlog_";

/** Seconds buckets for request and write latencies: 1 ms to 10 s. */
export const latencySecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const heapSpaceMetricNames = [
  "nodejs_heap_space_size_total_bytes",
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
];

/** A registry holding the process metrics (txlog_process_*, txlog_nodejs_*). */
export function processRegistry(): Registry {
  const registry = new Registry();
  // On Bun, nodejs_gc_duration_seconds stays empty (no GC entries from
  // perf_hooks); the rest reads true, but for the heap spaces below.
  collectDefaultMetrics({ register: registry, prefix: metricPrefix });
  // JavaScriptCore has no V8 heap spaces: Bun answers getHeapSpaceStatistics()
  // by walking the whole heap, which on a worker draining a backlog costs a
  // scrape tenths of a second of CPU for figures that mostly read 0.
  for (const name of heapSpaceMetricNames) registry.removeSingleMetric(`${metricPrefix}${name}`);
  return registry;
}

/** One label set of a SeriesHistogram: observing it hashes nothing. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative), the last one past every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let bucket = 0;
    while (bucket < this.bounds.length && value > (this.bounds[bucket] as number)) bucket++;
    (this.counts[bucket] as number)++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A labelled histogram for a hot path: the caller looks a series up once per
 * label set and observes it directly. prom-client's labelled observe hashes
 * the label set on every call, which showed on the API's path of every
 * request; this one is read by the same registry, in the same format.
 */
export class SeriesHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: string[],
    private readonly bounds: number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of `labelValues` (in labelNames order), made on first use. */
  series(...labelValues: string[]): HistogramSeries {
    const key = labelValues.join("\u0000");
    let series = this.#series.get(key);
    if (series === undefined) {
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, labelValues[i] as string]));
      series = new HistogramSeries(labels, this.bounds);
      this.#series.set(key, series);
    }
    return series;
  }

  /** What the registry prints: cumulative buckets, sum and count of every series. */
  get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      for (const [i, bound] of [...this.bounds, Number.POSITIVE_INFINITY].entries()) {
        cumulative += series.counts[i] as number;
        const le = bound === Number.POSITIVE_INFINITY ? "+Inf" : bound;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...series.labels }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** GET /metrics: the registry in Prometheus's text format. */
export async function metricsResponse(registry: Registry): Promise<Response> {
  return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
}

/**
 * Prometheus text as series → value, keyed as printed (`name{label="v",…}`);
 * for the benchmark and tests, which read the figures of a scrape.
 */
export function parseMetricsText(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return series;
}

/** The sum of every series of metric `name` (all label sets). */
export function metricSum(series: Map<string, number>, name: string): number {
  let total = 0;
  for (const [key, value] of series) {
    if (key === name || key.startsWith(`${name}{`)) total += value;
  }
  return total;
}
