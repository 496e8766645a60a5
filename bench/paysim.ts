// The PaySim replay benchmark (issue 4): replays PaySim rows through its own
// API and worker processes into a fresh database and fresh topics, measures
// ingest and commit rates, latencies and the processes' CPU and memory,
// measures the ceilings (COPY, Kafka, bare Elysia) on the same rows,
// reconciles, and writes results.json, results.md and rates.svg.
//
//   bun bench/paysim.ts [--file F] [--rows N] [--via http|batch|kafka] [--concurrency C]
//                       [--batch-rows R] [--workers W] [--out DIR] [--seed S] [--warmup-rows N]
//                       [--skip-ceilings] [--profile] [--keep]
//
// via http:  C loops POST /transaction, one row each;
// via batch: C loops POST /transactions, R rows each;
// via kafka: the rows are produced straight to the topic first (a backlog),
//            then the worker alone is started and timed until it has drained it.
//
// Exit 0 when the run reconciled (every accepted row stored once, nothing
// dead-lettered), 1 when it did not or failed, 2 on bad arguments, 130 when
// interrupted. The database, topics, groups and processes it made are removed
// in every case (unless --keep).
//
// The phases, in order: options.ts, run.ts (what the run opens), warmup.ts
// (through Kafka, not counted), ceiling-phase.ts, pipeline.ts (lag.ts samples
// the workers' lag), row-figures.ts (latencies, series, reconciliation), results.ts.
import { join } from "node:path";
import { measureCeilings } from "./ceiling-phase.ts";
import { cleanUp, InterruptedError, interrupt, killChildren, wasInterrupted } from "./cleanup.ts";
import { type Options, parseOptions, UsageError, usage } from "./options.ts";
import { runPipeline } from "./pipeline.ts";
import { markdown, type Results, resultFiles, writeResults } from "./report.ts";
import { results } from "./results.ts";
import { reconcile, rowFigures } from "./row-figures.ts";
import { openRun } from "./run.ts";
import { warmUp } from "./warmup.ts";

/** One run: open, ceilings, pipeline, reconciliation, results; resolves with the exit code. */
async function run(options: Options): Promise<number> {
  const opened = await openRun(options);
  const { sql, connection, config, offered, logDir, profileDir } = opened;
  const warmup = await warmUp(opened);
  const ceilings = options.ceilings ? await measureCeilings(opened) : {};
  // Dirty pages of the ceilings are not the pipeline's cost.
  await sql`CHECKPOINT`;
  const pipeline = await runPipeline(opened);
  const reconciliation = await reconcile(config, sql, connection, config.dlqTopic, pipeline.acceptedRows, offered);
  const rows = await rowFigures(sql, pipeline.phaseStartedAt, pipeline.phaseSeconds);
  const written: Results = results(opened, { warmup, ceilings, pipeline, reconciliation, rows });
  await writeResults(options.outDir, written);
  console.log("");
  console.log(markdown(written));
  console.log(
    `wrote ${Object.values(resultFiles)
      .map((file) => join(options.outDir, file))
      .join(", ")}; process logs in ${logDir}${profileDir ? `; CPU profiles in ${profileDir}` : ""}`,
  );
  if (!reconciliation.ok) {
    console.error(`bench: NOT reconciled: ${reconciliation.problems.join("; ")}`);
    return 1;
  }
  return 0;
}

/** The first signal stops and cleans up; a second one quits at once. */
function onSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (wasInterrupted()) process.exit(130);
      interrupt();
      console.error(`\nbench: ${signal}: stopping and cleaning up (again to quit at once)`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  // Whatever happens, no child outlives the benchmark.
  process.on("exit", killChildren);
}

function exitCode(error: unknown): number {
  if (error instanceof UsageError) {
    console.error(`bench: ${error.message}`);
    return 2;
  }
  if (error instanceof InterruptedError || wasInterrupted()) return 130;
  console.error(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 1;
}

if (import.meta.main) {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  onSignals();
  let code: number;
  try {
    code = await run(options);
  } catch (error) {
    code = exitCode(error);
  } finally {
    await cleanUp();
  }
  process.exit(code);
}
