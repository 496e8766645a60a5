// The benchmark as a user runs it: bench/paysim.ts as a child process, a
// small replay through its own API and worker, each way in. Checks that it
// reconciles and writes its result files; never how fast it was (timings are
// the benchmark's business, not the test suite's).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Results } from "../../bench/report.ts";
import { namesWithPrefix } from "../../src/kafka/admin.ts";
import { openDatabase, withDatabase } from "../../src/postgres/connection.ts";
import { runScript } from "../support/processes.ts";
import { kafkaConnection, testConfig } from "../support/run.ts";

const rows = 2000;
const warmupRows = 1000;
const outDirs: string[] = [];

afterAll(async () => {
  for (const dir of outDirs) await rm(dir, { recursive: true, force: true });
});

async function runBench(args: string[]): Promise<{ code: number; output: string; outDir: string }> {
  const outDir = await mkdtemp(join(tmpdir(), "txlog-bench-test-"));
  outDirs.push(outDir);
  const command = ["bench/paysim.ts", "--rows", String(rows), "--warmup-rows", String(warmupRows), "--out", outDir];
  const { code, stdout, stderr } = await runScript([...command, ...args]);
  return { code, output: stdout + stderr, outDir };
}

/** The benchmark removes what it made: no bench database or topic of its run is left. */
async function expectCleanedUp(results: Results): Promise<void> {
  const config = testConfig();
  const admin = openDatabase(withDatabase(config.databaseUrl, "postgres"), { poolMax: 1 });
  try {
    const left = await admin`SELECT 1 FROM pg_database WHERE datname = ${results.environment.database}`;
    expect(left.length).toBe(0);
  } finally {
    await admin.end();
  }
  const prefix = results.environment.topic.replace(/\.transactions$/, "");
  const { topics } = await namesWithPrefix(kafkaConnection(config), prefix);
  expect(topics).toEqual([]);
}

async function expectResults(outDir: string, via: Results["options"]["via"]): Promise<Results> {
  const results = JSON.parse(await readFile(join(outDir, "results.json"), "utf8")) as Results;
  expect(results.options.via).toBe(via);
  expect(results.reconcile).toMatchObject({
    ok: true,
    accepted: rows,
    committed: rows,
    distinct: rows,
    deadLettered: 0,
    gaps: 0,
    problems: [],
  });
  expect(results.pipeline.acceptedRows).toBe(rows);
  expect(results.pipeline.committedRows).toBe(rows);
  // Every row shows up once in each series of the chart.
  expect(results.series.accepted.reduce((a, b) => a + b, 0)).toBe(rows);
  expect(results.series.committed.reduce((a, b) => a + b, 0)).toBe(rows);
  expect(results.ceilings.copy?.rows).toBe(rows);
  expect(results.ceilings.kafka?.produce.rows).toBe(rows);
  expect(results.ceilings.kafka?.consume.rows).toBe(rows);
  expect(results.ratios.length).toBeGreaterThan(0);
  expect(results.pipeline.processes.worker?.peakRssBytes).toBeGreaterThan(0);
  // The warm-up went through Kafka before the timing, and counts nowhere else.
  expect(results.warmup.rows).toBe(warmupRows);
  expect(results.warmup.consumeRowsPerSecond).toBeGreaterThan(0);
  // The workers' /metrics were read, the last time after the last commit.
  const lag = results.pipeline.lag;
  expect(lag.samples).toBeGreaterThan(0);
  expect(lag.failedSamples).toBe(0);
  expect(lag.lastMessages).toBe(0);
  expect(lag.maxMessages).toBeLessThanOrEqual(rows);

  const markdown = await readFile(join(outDir, "results.md"), "utf8");
  expect(markdown).toContain("| measure | value | ceiling | ratio |");
  expect(markdown).toContain("Reconciled: **yes**");
  expect(markdown).toContain("| warm-up before timing (not counted)");
  expect(markdown).toContain("| worker lag, largest seen / at the end");

  const svg = await readFile(join(outDir, "rates.svg"), "utf8");
  expect(svg.startsWith("<svg ")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expect(svg.match(/<polyline /g)?.length).toBe(2);
  // Well-formed enough for any SVG reader: every element opened is closed.
  expect(svg.match(/<(?:svg|text)[ >]/g)?.length).toBe(svg.match(/<\/(?:svg|text)>/g)?.length);

  await expectCleanedUp(results);
  return results;
}

describe("bench/paysim.ts replays, reconciles and writes its results", () => {
  test("via http: single POSTs", async () => {
    const { code, output, outDir } = await runBench(["--via", "http", "--concurrency", "16"]);
    if (code !== 0) console.error(output);
    expect(code).toBe(0);
    const results = await expectResults(outDir, "http");
    expect(results.ceilings.http?.rows).toBe(rows);
    expect(results.pipeline.http202LatencyMs?.p99).toBeGreaterThan(0);
    expect(results.pipeline.processes.api?.peakRssBytes).toBeGreaterThan(0);
    // Read from the API's last log line: every accepted row travelled in one produce request.
    const produce = results.pipeline.apiProduce;
    expect(produce?.requests).toBeGreaterThan(0);
    expect(Math.round((produce?.requests ?? 0) * (produce?.messagesPerRequestMean ?? 0))).toBe(rows);
    expect(produce?.answerMsMean).toBeGreaterThan(0);
    // Single POSTs are judged against bare Elysia; the storage target belongs to the batch replay.
    expect(results.targets.map((t) => t.name)).toContain("single POSTs accepted/s / bare Elysia");
    expect(results.targets.map((t) => t.name)).not.toContain("end-to-end committed/s / min(COPY, Kafka)");
    expect(results.ratios.find((r) => r.ceiling === "accepted rows/s")?.ratio).toBeGreaterThan(0);
    // The API's CPU per row against the bare server's, both measured in this run.
    expect(results.ceilings.http?.cpuSeconds).toBeGreaterThan(0);
    expect(results.ratios.find((r) => r.metric === "API CPU per accepted row")?.ratio).toBeGreaterThan(0);
  }, 60_000);

  test("via batch: POST /transactions of 500 rows", async () => {
    const { code, output, outDir } = await runBench(["--via", "batch", "--batch-rows", "500"]);
    if (code !== 0) console.error(output);
    expect(code).toBe(0);
    const results = await expectResults(outDir, "batch");
    expect(results.ceilings.http?.rows).toBe(rows);
    expect(results.targets.map((t) => t.name)).toContain("end-to-end committed/s / min(COPY, Kafka)");
  }, 60_000);

  test("via kafka: the worker drains a pre-filled backlog", async () => {
    const { code, output, outDir } = await runBench(["--via", "kafka"]);
    if (code !== 0) console.error(output);
    expect(code).toBe(0);
    const results = await expectResults(outDir, "kafka");
    expect(results.pipeline.backlog?.produce.rows).toBe(rows);
    // PostgreSQL's CPU per row in the drain, judged against what it spent on the COPY ceiling.
    expect(results.ceilings.copy?.postgresCpuSeconds).toBeGreaterThan(0);
    expect(results.targets.map((t) => t.name)).toContain("PostgreSQL CPU per row, drain / COPY ceiling");
    expect(results.pipeline.processes.api).toBeUndefined();
  }, 60_000);

  test("a bad argument exits 2 with the usage and leaves nothing behind", async () => {
    const { code, output } = await runBench(["--via", "carrier-pigeon"]);
    expect(code).toBe(2);
    expect(output).toContain("--via must be http, batch or kafka");
    expect(output).toContain("usage: bun bench/paysim.ts");
  });
});

test("--api-key asks for a keyed run; without it the API runs without keys", async () => {
  const { parseOptions } = await import("../../bench/options.ts");
  expect(parseOptions(["--api-key"]).apiKey).toBe(true);
  expect(parseOptions([]).apiKey).toBe(false);
});
