import { expect, test } from "bun:test";
import { Histogram } from "prom-client";
import { metricSum, parseMetricsText, processRegistry, SeriesHistogram } from "../../src/runtime/metrics.ts";

test("a SeriesHistogram prints what prom-client's own Histogram prints for the same observations", async () => {
  const ours = processRegistry();
  const theirs = processRegistry();
  const bounds = [0.01, 0.1, 1];
  const fast = new SeriesHistogram("txlog_test_seconds", "test", ["route", "status"], bounds, ours);
  const reference = new Histogram({
    name: "txlog_test_seconds",
    help: "test",
    labelNames: ["route", "status"],
    buckets: bounds,
    registers: [theirs],
  });
  const observations: [string, string, number][] = [
    ["/a", "200", 0.005],
    ["/a", "200", 0.01],
    ["/a", "200", 0.5],
    ["/a", "200", 7],
    ["/b/:id", "404", 0.05],
  ];
  for (const [route, status, value] of observations) {
    fast.series(route, status).observe(value);
    reference.labels(route, status).observe(value);
  }
  const lines = async (registry: typeof ours) =>
    (await registry.getSingleMetricAsString("txlog_test_seconds")).split("\n").sort();
  expect(await lines(ours)).toEqual(await lines(theirs));
  const series = parseMetricsText(await ours.metrics());
  expect(series.get('txlog_test_seconds_bucket{le="0.01",route="/a",status="200"}')).toBe(2);
  expect(series.get('txlog_test_seconds_bucket{le="+Inf",route="/a",status="200"}')).toBe(4);
  expect(metricSum(series, "txlog_test_seconds_count")).toBe(5);
});

test("the process registry leaves out the heap-space figures, which Bun reads by walking the whole heap", async () => {
  // Made first: prom-client probes once whether the call exists; only scrapes must not walk.
  const registry = processRegistry();
  const v8 = await import("node:v8");
  const original = v8.default.getHeapSpaceStatistics;
  let walks = 0;
  v8.default.getHeapSpaceStatistics = () => {
    walks++;
    return original();
  };
  try {
    const text = await registry.metrics();
    expect(text).toContain("txlog_process_cpu_seconds_total");
    expect(text).toContain("txlog_nodejs_heap_size_used_bytes");
    expect(text).not.toContain("heap_space");
    expect(walks).toBe(0);
  } finally {
    v8.default.getHeapSpaceStatistics = original;
  }
});
