// The results of a run as one object (results.json; report.ts renders it):
// the options, the machine and code measured, the pipeline's figures, the
// ceilings, the reconciliation and the rate series, judged against the targets.
import { cpus, totalmem } from "node:os";
import { type Config, settings } from "../src/runtime/config.ts";
import { type Rate, rate } from "./ceilings.ts";
import { repoRoot } from "./children.ts";
import { percentiles } from "./load.ts";
import type { PipelineRun } from "./pipeline.ts";
import { judge, type Reconciliation, type Results } from "./report.ts";
import type { RowFigures } from "./row-figures.ts";
import type { Run } from "./run.ts";

export interface Outcome {
  warmup: Results["warmup"];
  ceilings: Results["ceilings"];
  pipeline: PipelineRun;
  reconciliation: Reconciliation;
  rows: RowFigures;
}

export function results(run: Run, outcome: Outcome): Results {
  const { options, source, offered } = run;
  const base: Omit<Results, "ratios" | "targets"> = {
    version: 1,
    runId: run.runId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ["bun", "bench/paysim.ts", ...process.argv.slice(2)].join(" "),
    options: {
      via: options.via,
      rows: offered,
      source: source.description,
      concurrency: options.concurrency,
      batchRows: options.batchRows,
      workers: options.workers,
      ceilings: options.ceilings,
      apiKey: options.apiKey,
      warmupRows: options.warmupRows,
    },
    warmup: outcome.warmup,
    environment: environment(run),
    pipeline: pipelineFigures(outcome),
    ceilings: outcome.ceilings,
    reconcile: outcome.reconciliation,
    series: outcome.rows.series,
  };
  return { ...base, ...judge(base) };
}

function environment({ config, databaseUrl, postgresVersion }: Run): Results["environment"] {
  return {
    git: gitState(),
    cpus: cpus().length,
    memoryBytes: totalmem(),
    bun: Bun.version,
    postgres: postgresVersion,
    kafkaBrokers: config.kafkaBrokers,
    database: new URL(databaseUrl).pathname.slice(1),
    topic: config.topic,
    // Every setting but the addresses: what the API and the workers were tuned with.
    settings: Object.fromEntries(
      Object.entries(settings)
        .filter(([key]) => !["databaseUrl", "kafkaBrokers", "host", "port"].includes(key))
        .map(([key, setting]) => [setting.variable, config[key as keyof Config] as string | number]),
    ),
  };
}

/** The commit the run measured, and the files of src/ changed since (a run on uncommitted code says so). */
function gitState(): { commit: string; changedSrcFiles: string[] } {
  const git = (args: string[]) => {
    const result = Bun.spawnSync(["git", ...args], { cwd: repoRoot, stdout: "pipe", stderr: "ignore" });
    return result.exitCode === 0 ? result.stdout.toString() : "";
  };
  return {
    commit: git(["rev-parse", "HEAD"]).trim() || "unknown",
    changedSrcFiles: git(["status", "--porcelain", "--", "src", "sql"])
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => line.slice(3)),
  };
}

function pipelineFigures({ pipeline, reconciliation, rows }: Outcome): Results["pipeline"] {
  const { load, backlog, acceptedRows, figures } = pipeline;
  return {
    acceptedRows,
    acceptedPerSecond: load
      ? rate(acceptedRows, pipeline.acceptSeconds).rowsPerSecond
      : (backlog as { produce: Rate }).produce.rowsPerSecond,
    acceptSeconds: pipeline.acceptSeconds,
    committedRows: reconciliation.committed,
    committedPerSecond: rate(reconciliation.committed, pipeline.commitSeconds).rowsPerSecond,
    commitSeconds: pipeline.commitSeconds,
    failures: load?.failures ?? {},
    overloadRetries: load?.overloadRetries ?? 0,
    http202LatencyMs: load ? percentiles(load.latenciesMs) : undefined,
    acceptToCommitMs: rows.acceptToCommitMs,
    processes: figures.processes,
    kafkaCpuSeconds: figures.kafkaCpuSeconds,
    postgresCpuSeconds: figures.postgresCpuSeconds,
    machineBusyShare: figures.machineBusyShare,
    otherCpuSeconds: figures.otherCpuSeconds,
    workerLog: pipeline.workerLog.figures(),
    apiProduce: pipeline.apiProduce,
    lag: pipeline.lag,
    backlog,
  };
}
