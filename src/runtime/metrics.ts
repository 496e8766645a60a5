// What the API and the worker share for their GET /metrics: one Prometheus
// registry per process (prom-client), the process's own figures (CPU, memory,
// file descriptors, event-loop delay) under the txlog_ prefix, and the
// answer in Prometheus's text format. Each role defines its metrics in a
// module of its own (src/api/metrics.ts, src/pipeline/metrics.ts).
import { collectDefaultMetrics, Registry } from "prom-client";

export const metricPrefix = "txlog_";

/** Seconds buckets for request and write latencies: 1 ms to 10 s. */
export const latencySecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A registry holding the process metrics (txlog_process_*, txlog_nodejs_*). */
export function processRegistry(): Registry {
  const registry = new Registry();
  // On Bun, nodejs_gc_duration_seconds stays empty (no GC entries from
  // perf_hooks) and most nodejs_heap_space_* read 0 (JavaScriptCore has no
  // V8 heap spaces); the rest reads true.
  collectDefaultMetrics({ register: registry, prefix: metricPrefix });
  return registry;
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
