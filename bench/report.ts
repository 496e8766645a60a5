// What a benchmark run found, and its three files: results.json (everything),
// results.md (the table README shows) and an SVG chart of ingest and commit
// rate over time.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CopyCeiling, HttpCeiling, KafkaCeiling, Rate } from "./ceilings.ts";
import type { LagFigures } from "./lag.ts";
import type { Percentiles } from "./load.ts";
import type { WarmupFigures } from "./warmup.ts";

export type Via = "http" | "batch" | "kafka";

export interface ProcessFigures {
  /** CPU used during the measured phase, seconds. */
  cpuSeconds: number;
  /** cpuSeconds per row, microseconds: the cost per row to compare across sizes. */
  cpuMicrosPerRow: number;
  /** Peak resident set over the whole life of the process (VmHWM), bytes. */
  peakRssBytes: number;
}

/** The API's produce requests to Kafka, from its log line on stopping. */
export interface ApiProduceFigures {
  requests: number;
  messagesPerRequestMean: number;
  /** Mean time from sending a produce request to the broker's answer, milliseconds. */
  answerMsMean: number;
}

export interface WorkerLogFigures {
  batches: number;
  rowsPerBatchMean: number;
  /** Sum of the "DB Committed … in N ms" times: decode, write, offset commit, seconds. */
  writeSeconds: number;
  /** Sum of the "Message Received … in N ms" times: waiting for a batch to fill, seconds. */
  fillSeconds: number;
  writeMsP50: number;
  writeMsMax: number;
}

export interface Ratio {
  metric: string;
  value: number;
  unit: string;
  ceiling: string;
  ceilingValue: number;
  /** value / ceilingValue (for latencies: how many times the ceiling's). */
  ratio: number;
}

export interface Target {
  name: string;
  value: number;
  /** "≥ 0.6", "< 50 ms" */
  rule: string;
  met: boolean;
}

export interface Reconciliation {
  ok: boolean;
  accepted: number;
  committed: number;
  distinct: number;
  deadLettered: number;
  /** Messages of the run's topic neither stored nor rejected (bun run reconcile). */
  gaps: number;
  /** How long reconcile took to read the topic and judge it. */
  reconcileSeconds: number;
  problems: string[];
}

export interface Results {
  version: 1;
  runId: string;
  startedAt: string;
  finishedAt: string;
  command: string;
  options: {
    via: Via;
    rows: number;
    source: string;
    concurrency: number;
    batchRows: number;
    workers: number;
    ceilings: boolean;
    /** POSTs sent with an API key (--api-key). */
    apiKey: boolean;
    warmupRows: number;
  };
  warmup: WarmupFigures;
  environment: {
    /** The commit measured and the src/ or sql/ files that differed from it. */
    git: { commit: string; changedSrcFiles: string[] };
    cpus: number;
    memoryBytes: number;
    bun: string;
    postgres: string;
    kafkaBrokers: string[];
    database: string;
    topic: string;
    /** The settings the API and worker ran with (from their environment). */
    settings: Record<string, string | number>;
  };
  pipeline: {
    acceptedRows: number;
    /** Rows answered 202 (or produced, for via kafka) per second of the load. */
    acceptedPerSecond: number;
    acceptSeconds: number;
    committedRows: number;
    /** Rows committed per second, from the start of the load (via kafka: from the worker's start) to the last commit. */
    committedPerSecond: number;
    commitSeconds: number;
    failures: Record<string, number>;
    overloadRetries: number;
    http202LatencyMs?: Percentiles;
    acceptToCommitMs: { p50: number; p95: number; p99: number };
    processes: Record<string, ProcessFigures>;
    /** CPU seconds of the broker and of all PostgreSQL processes during the phase. */
    kafkaCpuSeconds: number;
    postgresCpuSeconds: number;
    /** Share of the machine's CPU busy during the phase, 0..1. */
    machineBusyShare: number;
    /** Busy CPU of the machine not accounted for by the processes above (kernel, other users), seconds. */
    otherCpuSeconds: number;
    workerLog?: WorkerLogFigures;
    apiProduce?: ApiProduceFigures;
    /** The workers' lag, sampled from their /metrics. */
    lag: LagFigures;
    /** via kafka: the backlog produced before the worker started, and the worker's start-up. */
    backlog?: { produce: Rate; workerStartSeconds: number };
  };
  ceilings: { copy?: CopyCeiling; kafka?: KafkaCeiling; http?: HttpCeiling };
  ratios: Ratio[];
  targets: Target[];
  reconcile: Reconciliation;
  series: { binSeconds: number; accepted: number[]; committed: number[] };
}

const mb = (bytes: number) => bytes / (1024 * 1024);

/** The ratios of a run to its ceilings, and the issue's targets they are judged by. */
export function judge(results: Omit<Results, "ratios" | "targets">): { ratios: Ratio[]; targets: Target[] } {
  const { pipeline: p, ceilings: c, options } = results;
  const ratios: Ratio[] = [];
  const targets: Target[] = [];
  const add = (metric: string, value: number, unit: string, ceiling: string, ceilingValue: number | undefined) => {
    if (ceilingValue === undefined || !(ceilingValue > 0)) return undefined;
    const ratio = value / ceilingValue;
    ratios.push({ metric, value, unit, ceiling, ceilingValue, ratio });
    return ratio;
  };
  const target = (name: string, value: number | undefined, rule: string, met: (v: number) => boolean) => {
    if (value !== undefined) targets.push({ name, value, rule, met: met(value) });
  };
  const storage =
    c.copy && c.kafka
      ? c.copy.rowsPerSecond <= c.kafka.rowsPerSecond
        ? { name: "min(COPY, Kafka) = COPY", value: c.copy.rowsPerSecond }
        : { name: "min(COPY, Kafka) = Kafka", value: c.kafka.rowsPerSecond }
      : undefined;
  const bare = options.via === "http" ? "bare Elysia POST /transaction" : "bare Elysia POST /transactions";

  if (options.via === "kafka") {
    const r = add("committed rows/s (backlog drain)", p.committedPerSecond, "rows/s", "COPY", c.copy?.rowsPerSecond);
    target("worker drain / COPY ceiling", r, "≥ 0.7", (v) => v >= 0.7);
    // PostgreSQL's own cost of taking the rows: per row in the drain, against the ceiling's one COPY of the same rows.
    if (c.copy && c.copy.postgresCpuSeconds > 0 && p.committedRows > 0) {
      const drain = (p.postgresCpuSeconds * 1e6) / p.committedRows;
      const ceiling = (c.copy.postgresCpuSeconds * 1e6) / c.copy.rows;
      const cost = add("PostgreSQL CPU per row (drain)", drain, "µs", "PostgreSQL CPU per row (COPY ceiling)", ceiling);
      target("PostgreSQL CPU per row, drain / COPY ceiling", cost, "≤ 1.2", (v) => v <= 1.2);
    }
    add(
      "committed rows/s (backlog drain)",
      p.committedPerSecond,
      "rows/s",
      "Kafka consume",
      c.kafka?.consume.rowsPerSecond,
    );
    if (p.backlog) {
      add(
        "backlog produce rows/s",
        p.backlog.produce.rowsPerSecond,
        "rows/s",
        "Kafka produce",
        c.kafka?.produce.rowsPerSecond,
      );
    }
  } else {
    const accepted = add("accepted rows/s", p.acceptedPerSecond, "rows/s", bare, c.http?.rowsPerSecond);
    if (options.via === "http") target("single POSTs accepted/s / bare Elysia", accepted, "≥ 0.4", (v) => v >= 0.4);
    const acceptedVsStorage = add(
      "accepted rows/s",
      p.acceptedPerSecond,
      "rows/s",
      storage?.name ?? "",
      storage?.value,
    );
    if (options.via === "batch") {
      target("batch endpoint accepted/s / min(COPY, Kafka)", acceptedVsStorage, "≥ 0.5", (v) => v >= 0.5);
    }
    const committed = add(
      "committed rows/s (end to end)",
      p.committedPerSecond,
      "rows/s",
      storage?.name ?? "",
      storage?.value,
    );
    // Judged on the batch replay: single POSTs are bounded by the HTTP edge
    // (their own target is 0.4 of bare Elysia, far below the storage ceilings),
    // so for them the question is only whether the worker keeps up.
    if (options.via === "batch") {
      target("end-to-end committed/s / min(COPY, Kafka)", committed, "≥ 0.6", (v) => v >= 0.6);
    } else {
      add("committed rows/s (end to end)", p.committedPerSecond, "rows/s", "accepted rows/s", p.acceptedPerSecond);
    }
    // The single-POST figure to improve: the API's CPU per accepted row against the bare route's server
    // CPU per row under the same load (the load generator shares the cores, so throughput ratios blur it).
    const api = p.processes.api;
    if (api && c.http && c.http.rows > 0 && c.http.cpuSeconds > 0) {
      add(
        "API CPU per accepted row",
        api.cpuMicrosPerRow,
        "µs",
        "bare Elysia server CPU per row",
        (c.http.cpuSeconds * 1e6) / c.http.rows,
      );
    }
    if (p.http202LatencyMs && c.http) {
      add("HTTP 202 latency p50", p.http202LatencyMs.p50, "ms", `${bare} p50`, c.http.latencyMs.p50);
      add("HTTP 202 latency p99", p.http202LatencyMs.p99, "ms", `${bare} p99`, c.http.latencyMs.p99);
    }
    if (options.via === "http" && p.http202LatencyMs) {
      target("HTTP 202 latency p99", p.http202LatencyMs.p99, "< 50 ms", (v) => v < 50);
    }
  }
  const workerPeaks = Object.entries(p.processes)
    .filter(([name]) => name.startsWith("worker"))
    .map(([, f]) => f.peakRssBytes);
  if (workerPeaks.length > 0) target("worker peak RSS, MB", mb(Math.max(...workerPeaks)), "< 300 MB", (v) => v < 300);
  const api = p.processes.api;
  if (api) target("API peak RSS, MB", mb(api.peakRssBytes), "< 300 MB", (v) => v < 300);
  return { ratios, targets };
}

// --- text -------------------------------------------------------------------

function number(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function figure(value: number, unit: string): string {
  if (unit === "ms") return `${number(value, value < 10 ? 2 : 1)} ms`;
  if (unit === "rows/s") return `${number(value)} rows/s`;
  return `${number(value, 2)} ${unit}`;
}

export function markdown(results: Results): string {
  const { pipeline: p, ceilings: c, options: o } = results;
  const lines: string[] = [];
  lines.push(
    `### txlog PaySim replay: ${number(o.rows)} rows via ${o.via}${o.via === "kafka" ? " (worker draining a pre-filled backlog)" : ""}`,
  );
  lines.push("");
  lines.push(`\`${results.command}\``);
  lines.push("");
  const git = results.environment.git;
  lines.push(
    `Code: ${git.commit.slice(0, 7)}${git.changedSrcFiles.length > 0 ? ` with uncommitted changes to ${git.changedSrcFiles.join(", ")}` : ""}.`,
  );
  lines.push("");
  lines.push(
    `${results.startedAt}, ${results.environment.cpus} CPUs, Bun ${results.environment.bun}, ${results.environment.postgres.split(" on ")[0]}, ` +
      `${results.environment.settings.KAFKA_TOPIC_PARTITIONS} partitions` +
      (o.via === "kafka" ? "" : `, concurrency ${o.concurrency}`) +
      (o.via === "batch" ? `, ${o.batchRows} rows per POST` : "") +
      (o.workers > 1 ? `, ${o.workers} workers` : "") +
      `. Reconciled: **${results.reconcile.ok ? "yes" : "NO"}** (accepted ${number(results.reconcile.accepted)}, ` +
      `committed ${number(results.reconcile.committed)}, distinct ${number(results.reconcile.distinct)}, dead-lettered ${number(results.reconcile.deadLettered)}; \`bun run reconcile\`: ${number(results.reconcile.gaps)} gaps in ${results.reconcile.reconcileSeconds.toFixed(1)} s).`,
  );
  lines.push("");
  lines.push("| measure | value | ceiling | ratio |");
  lines.push("| --- | ---: | --- | ---: |");
  for (const r of results.ratios) {
    lines.push(
      `| ${r.metric} | ${figure(r.value, r.unit)} | ${r.ceiling}: ${figure(r.ceilingValue, r.unit)} | ${number(r.ratio, 2)} |`,
    );
  }
  // Figures without a ceiling in this run get a row of their own.
  const hasRatio = (prefix: string) => results.ratios.some((r) => r.metric.startsWith(prefix));
  if (o.via !== "kafka" && !hasRatio("accepted rows/s")) {
    lines.push(`| accepted rows/s | ${figure(p.acceptedPerSecond, "rows/s")} | | |`);
  }
  if (!hasRatio("committed rows/s")) lines.push(`| committed rows/s | ${figure(p.committedPerSecond, "rows/s")} | | |`);
  if (p.http202LatencyMs && !hasRatio("HTTP 202 latency")) {
    lines.push(
      `| HTTP 202 latency p50 / p99 | ${figure(p.http202LatencyMs.p50, "ms")} / ${figure(p.http202LatencyMs.p99, "ms")} | | |`,
    );
  }
  lines.push(
    `| accept→committed p50 / p95 / p99${o.via === "kafka" ? " (includes the wait in the backlog)" : ""} | ${figure(p.acceptToCommitMs.p50, "ms")} / ${figure(p.acceptToCommitMs.p95, "ms")} / ${figure(p.acceptToCommitMs.p99, "ms")} | | |`,
  );
  for (const [name, f] of Object.entries(p.processes)) {
    lines.push(
      `| ${name}: CPU, µs per row, peak RSS | ${number(f.cpuSeconds, 2)} s, ${number(f.cpuMicrosPerRow, 1)} µs/row, ${number(mb(f.peakRssBytes))} MB | | |`,
    );
  }
  lines.push(
    `| CPU of PostgreSQL / Kafka broker / anything else; machine busy | ${number(p.postgresCpuSeconds, 2)} s / ${number(p.kafkaCpuSeconds, 2)} s / ${number(p.otherCpuSeconds, 2)} s; ${number(p.machineBusyShare * 100)}% | | |`,
  );
  if (p.workerLog) {
    const w = p.workerLog;
    lines.push(
      `| worker batches: count, rows mean, write p50 / max, fill+write time | ${number(w.batches)}, ${number(w.rowsPerBatchMean)}, ${number(w.writeMsP50)} / ${number(w.writeMsMax)} ms, ${number(w.fillSeconds, 2)} s + ${number(w.writeSeconds, 2)} s | | |`,
    );
  }
  if (p.apiProduce) {
    const a = p.apiProduce;
    lines.push(
      `| API produce requests: count, messages mean, answered in (mean) | ${number(a.requests)}, ${number(a.messagesPerRequestMean, 1)}, ${number(a.answerMsMean, 2)} ms | | |`,
    );
  }
  lines.push(
    `| worker lag, largest seen / at the end (/metrics every ${number(p.lag.sampleMs)} ms, ${number(p.lag.samples)} samples) | ${number(p.lag.maxMessages)} / ${p.lag.lastMessages === undefined ? "?" : number(p.lag.lastMessages)} messages | | |`,
  );
  if (results.warmup.rows > 0) {
    const w = results.warmup;
    lines.push(
      `| warm-up before timing (not counted): Kafka produce / consume | ${number(w.rows)} rows in ${number(w.seconds, 2)} s, ${figure(w.produceRowsPerSecond, "rows/s")} / ${figure(w.consumeRowsPerSecond, "rows/s")} | | |`,
    );
  }
  if (p.backlog) {
    lines.push(
      `| backlog: produced, worker start-up | ${figure(p.backlog.produce.rowsPerSecond, "rows/s")} (${number(p.backlog.produce.seconds, 2)} s), ${number(p.backlog.workerStartSeconds, 2)} s | | |`,
    );
  }
  if (c.copy)
    lines.push(
      `| ceiling: COPY into a copy of transactions | ${figure(c.copy.rowsPerSecond, "rows/s")} (${number(c.copy.seconds, 2)} s; PostgreSQL CPU ${number(c.copy.postgresCpuSeconds, 2)} s) | | |`,
    );
  if (c.kafka) {
    lines.push(
      `| ceiling: Kafka produce / consume | ${figure(c.kafka.produce.rowsPerSecond, "rows/s")} / ${figure(c.kafka.consume.rowsPerSecond, "rows/s")} | | |`,
    );
  }
  if (c.http) {
    lines.push(
      `| ceiling: bare Elysia, p50 / p99 | ${figure(c.http.rowsPerSecond, "rows/s")}, ${figure(c.http.latencyMs.p50, "ms")} / ${figure(c.http.latencyMs.p99, "ms")} | | |`,
    );
  }
  const failures = Object.entries(p.failures);
  if (failures.length > 0 || p.overloadRetries > 0) {
    lines.push(
      `| refused requests, overload retries | ${failures.map(([k, v]) => `${k}: ${number(v)}`).join(", ") || "none"}, ${number(p.overloadRetries)} | | |`,
    );
  }
  if (results.targets.length > 0) {
    lines.push("");
    lines.push("| target | value | rule | met |");
    lines.push("| --- | ---: | --- | --- |");
    for (const t of results.targets)
      lines.push(`| ${t.name} | ${number(t.value, 2)} | ${t.rule} | ${t.met ? "yes" : "no"} |`);
  }
  if (results.reconcile.problems.length > 0) {
    lines.push("");
    for (const problem of results.reconcile.problems) lines.push(`- reconcile: ${problem}`);
  }
  lines.push("");
  return lines.join("\n");
}

// --- chart ------------------------------------------------------------------

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Ingest and commit rate per time bin as two polylines over time. */
export function chart(results: Results): string {
  const { binSeconds, accepted, committed } = results.series;
  const width = 860;
  const height = 420;
  const left = 80;
  const right = 20;
  const top = 50;
  const bottom = 60;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const bins = Math.max(accepted.length, committed.length, 1);
  const totalSeconds = bins * binSeconds;
  const rates = (counts: number[]) => counts.map((n) => n / binSeconds);
  const acceptedRates = rates(accepted);
  const committedRates = rates(committed);
  const maxRate = Math.max(1, ...acceptedRates, ...committedRates);
  const yStep = niceStep(maxRate, 5);
  const yMax = Math.ceil(maxRate / yStep) * yStep;
  const xStep = niceStep(totalSeconds, 8);
  const x = (seconds: number) => left + (seconds / totalSeconds) * plotW;
  const y = (rowsPerSecond: number) => top + plotH - (rowsPerSecond / yMax) * plotH;
  // Each bin's rate is drawn at the middle of the bin.
  const points = (values: number[]) =>
    values.map((v, i) => `${x((i + 0.5) * binSeconds).toFixed(1)},${y(v).toFixed(1)}`).join(" ");

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  const o = results.options;
  parts.push(
    `<text x="${left}" y="24" font-size="15" font-weight="bold">${escapeXml(`txlog: ${o.rows.toLocaleString("en-US")} rows via ${o.via} - rows per second over time`)}</text>`,
  );
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v).toLocaleString("en-US")}</text>`,
    );
  }
  for (let s = 0; s <= totalSeconds + 1e-9; s += xStep) {
    parts.push(`<line x1="${x(s)}" x2="${x(s)}" y1="${top + plotH}" y2="${top + plotH + 5}" stroke="#333"/>`);
    parts.push(`<text x="${x(s)}" y="${top + plotH + 18}" text-anchor="middle">${Number(s.toFixed(2))}</text>`);
  }
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(
    `<text x="${left + plotW / 2}" y="${height - 18}" text-anchor="middle">seconds since the load started (bins of ${binSeconds} s)</text>`,
  );
  parts.push(
    `<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">rows per second</text>`,
  );
  const ingest = o.via === "kafka" ? "produced to Kafka (acceptedAt)" : "accepted by the API (acceptedAt)";
  parts.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${points(acceptedRates)}"/>`);
  parts.push(`<polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="${points(committedRates)}"/>`);
  const legendX = left + plotW - 260;
  parts.push(
    `<line x1="${legendX}" x2="${legendX + 24}" y1="${top + 10}" y2="${top + 10}" stroke="#1f77b4" stroke-width="3"/>`,
  );
  parts.push(`<text x="${legendX + 30}" y="${top + 14}">${ingest}</text>`);
  parts.push(
    `<line x1="${legendX}" x2="${legendX + 24}" y1="${top + 28}" y2="${top + 28}" stroke="#ff7f0e" stroke-width="3"/>`,
  );
  parts.push(`<text x="${legendX + 30}" y="${top + 32}">committed to PostgreSQL (committedAt)</text>`);
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

export const resultFiles = { json: "results.json", markdown: "results.md", chart: "rates.svg" } as const;

export async function writeResults(outDir: string, results: Results): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, resultFiles.json), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, resultFiles.markdown), markdown(results));
  await writeFile(join(outDir, resultFiles.chart), chart(results));
}
