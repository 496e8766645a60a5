// The measured pipeline: starts the workers (and the API) as child processes,
// drives the load (or produces the backlog first), waits until every accepted
// row is committed, samples the processes and stops them.
//
// via http and batch: the API and the workers start, then C loops POST the
//   request bodies; the phase runs from the first request to the last commit.
// via kafka: the rows are produced to the topic first (a backlog), then the
//   workers alone start and are timed until they have drained it.
import { freePort } from "../scripts/broker.ts";
import { createProducer } from "../src/kafka/client.ts";
import { produceRows, type Rate } from "./ceilings.ts";
import { answers, type Child, startChild, waitUntilReady } from "./children.ts";
import { checkInterrupted, onCleanup, track } from "./cleanup.ts";
import { CommitPoller } from "./commits.ts";
import { type LagFigures, LagSampler, lagSettleMs } from "./lag.ts";
import { type LoadProgress, type LoadResult, runLoad } from "./load.ts";
import { type PhaseFigures, type PhaseSamples, phaseFigures, samplePhase } from "./phase-cpu.ts";
import type { ApiProduceFigures } from "./report.ts";
import type { Bodies } from "./rows.ts";
import { produceSettings, type Run } from "./run.ts";
import { apiProduceFigures, WorkerLog } from "./worker-log.ts";

/** Longest wait for the API or worker to get ready, milliseconds. */
const startTimeoutMs = 60_000;
/** Overloaded 503s retried per request at most (the API says nothing was accepted then). */
const overloadRetriesMax = 100;

export interface Backlog {
  produce: Rate;
  workerStartSeconds: number;
}

export interface PipelineRun {
  load?: LoadResult;
  backlog?: Backlog;
  acceptedRows: number;
  /** Wall-clock start of the load (via kafka: of the backlog), for the time bins. */
  phaseStartedAt: Date;
  /** From the start of the phase to the last commit, seconds. */
  phaseSeconds: number;
  /** The load's duration (via kafka: producing the backlog), seconds. */
  acceptSeconds: number;
  /** From the load's start (via kafka: the first worker's start) to the last commit, seconds. */
  commitSeconds: number;
  figures: PhaseFigures;
  workerLog: WorkerLog;
  /** The API's produce figures from its last log line (via http and batch). */
  apiProduce: ApiProduceFigures | undefined;
  /** The workers' lag during the phase, from their /metrics. */
  lag: LagFigures;
}

/** A drive of the pipeline up to the commit of its last row, the processes still running. */
interface Driven {
  load?: LoadResult;
  backlog?: Backlog;
  api?: Child;
  workers: Child[];
  /** The API's figures from its last line so far (read again once it stopped: the line comes on stopping). */
  apiProduce(): ApiProduceFigures | undefined;
  phaseStartedAt: Date;
  /** performance.now() marks of the phase. */
  phaseStartMs: number;
  acceptStartMs: number;
  acceptEndMs: number;
  commitStartMs: number;
  before: PhaseSamples;
  commits: CommitPoller;
  lag: LagSampler;
}

export async function runPipeline(run: Run): Promise<PipelineRun> {
  const workerLog = new WorkerLog();
  const driven = run.options.via === "kafka" ? await drainBacklog(run, workerLog) : await driveApi(run, workerLog);
  return finish(run, workerLog, driven);
}

/** via kafka: produce every row to the topic, then time the workers alone until they have committed them. */
async function drainBacklog(run: Run, workerLog: WorkerLog): Promise<Driven> {
  const { sql, progress } = run;
  const phaseStartedAt = new Date();
  const phaseStartMs = performance.now();
  const backlog: Backlog = { produce: await produceBacklog(run), workerStartSeconds: 0 };
  run.say(`backlog: ${backlog.produce.rows} messages in ${backlog.produce.seconds.toFixed(2)} s`);
  const acceptEndMs = performance.now();
  checkInterrupted();
  await sql`CHECKPOINT`;

  const workers = startWorkers(run, workerLog);
  const spawnedAtMs = Math.min(...workers.map((worker) => worker.spawnedAtMs));
  // With several workers the drain is timed from the first one's start: the group rebalances as the others join.
  await workersReady(workers, workerLog, true);
  const lag = new LagSampler(() => workerLog.statusPorts);
  const before = samplePhase(measuredPids(undefined, workers));
  const commits = pollCommits(run, workers, workerLog);
  commits.target = backlog.produce.rows;
  progress.start(
    `worker${workers.length > 1 ? `s (${workers.length})` : ""}: drain the backlog`,
    backlog.produce.rows,
    () => ({ done: Math.max(commits.count, workerLog.settledRows) }),
  );
  const commitStartMs = workerLog.readyAtMs ?? spawnedAtMs;
  backlog.workerStartSeconds = seconds(spawnedAtMs, commitStartMs);
  await commits.done;
  // An interrupt stops the poller, which then ends normally: no results for a partial run.
  checkInterrupted();
  return {
    backlog,
    workers,
    apiProduce: () => undefined,
    phaseStartedAt,
    phaseStartMs,
    acceptStartMs: phaseStartMs,
    acceptEndMs,
    commitStartMs,
    before,
    commits,
    lag,
  };
}

async function produceBacklog({ connection, config, source, offered, progress }: Run): Promise<Rate> {
  let produced = 0;
  progress.start("backlog: produce to Kafka", offered, () => ({ done: produced }));
  const producer = createProducer(connection);
  try {
    return await produceRows(producer, config.topic, source, {
      ...produceSettings,
      onProgress: (n) => {
        produced = n;
      },
    });
  } finally {
    await producer.close();
  }
}

/** via http and batch: POST every body to the API, then wait until the workers have committed what it accepted. */
async function driveApi(run: Run, workerLog: WorkerLog): Promise<Driven> {
  const { options, config, bodies, offered, progress } = run;
  const { api, apiUrl, apiProduce, workers } = await startApiAndWorkers(run, workerLog);
  checkInterrupted();

  const state: LoadProgress = { sentRows: 0, acceptedRows: 0, failedRequests: 0 };
  const lag = new LagSampler(() => workerLog.statusPorts);
  const before = samplePhase(measuredPids(api, workers));
  const commits = pollCommits(run, workers, workerLog);
  const path = options.via === "batch" ? "/transactions" : "/transaction";
  progress.start(`pipeline: POST ${path}`, offered, () => ({
    done: state.acceptedRows,
    note: `committed ${Math.max(commits.count, workerLog.settledRows).toLocaleString("en-US")}${state.failedRequests > 0 ? ` · failed requests ${state.failedRequests}` : ""}`,
  }));
  const load = await runLoad({
    url: `${apiUrl}${path}`,
    bodies: bodies as Bodies,
    concurrency: options.concurrency,
    requestTimeoutMs: config.acceptTimeoutMs + 10_000,
    overloadRetriesMax,
    progress: state,
    authorization: run.authorization,
  });
  checkInterrupted();
  commits.target = load.acceptedRows;
  progress.start("pipeline: waiting for the worker", load.acceptedRows, () => ({
    done: Math.max(commits.count, workerLog.settledRows),
  }));
  await commits.done;
  // An interrupt stops the poller, which then ends normally: no results for a partial run.
  checkInterrupted();
  return {
    load,
    api,
    workers,
    apiProduce,
    phaseStartedAt: load.startedAt,
    phaseStartMs: load.startedAtMs,
    acceptStartMs: load.startedAtMs,
    acceptEndMs: load.endedAtMs,
    commitStartMs: load.startedAtMs,
    before,
    commits,
    lag,
  };
}

/** The workers, then the API on a free port; resolves once the API answers /ready and every worker consumes. */
async function startApiAndWorkers(run: Run, workerLog: WorkerLog) {
  const { env, logDir, profileDir } = run;
  const port = await freePort();
  const workers = startWorkers(run, workerLog);
  let apiProduce: ApiProduceFigures | undefined;
  const api = track(
    startChild({
      name: "api",
      file: "src/api.ts",
      env: { ...env, PORT: String(port) },
      logDir,
      cpuProfileDir: profileDir,
      onLine: (line) => {
        apiProduce = apiProduceFigures(line) ?? apiProduce;
      },
    }),
  );
  const apiUrl = `http://127.0.0.1:${port}`;
  await waitUntilReady(api, () => answers(`${apiUrl}/ready`), startTimeoutMs, "answering /ready");
  await workersReady(workers, workerLog, false);
  return { api, apiUrl, apiProduce: () => apiProduce, workers };
}

/** --workers W worker processes in one consumer group, their output read by `workerLog`. */
function startWorkers({ options, env, logDir, profileDir }: Run, workerLog: WorkerLog): Child[] {
  return Array.from({ length: options.workers }, (_, i) =>
    track(
      startChild({
        name: options.workers === 1 ? "worker" : `worker-${i + 1}`,
        file: "src/worker.ts",
        env,
        logDir,
        cpuProfileDir: profileDir,
        onLine: (line, atMs) => workerLog.onLine(line, atMs),
      }),
    ),
  );
}

/**
 * Resolves once every worker said it consumes. `orCommitting`: or once rows
 * were committed (with a backlog waiting, commits may come before every
 * worker's ready line).
 */
function workersReady(workers: Child[], workerLog: WorkerLog, orCommitting: boolean): Promise<unknown> {
  return Promise.all(
    workers.map((worker) =>
      waitUntilReady(
        worker,
        () => workerLog.readyCount >= workers.length || (orCommitting && workerLog.settledRows > 0),
        startTimeoutMs,
        "consuming",
      ),
    ),
  );
}

/** The processes sampled for the phase, by the names the report shows them under. */
function measuredPids(api: Child | undefined, workers: Child[]): Record<string, number> {
  const pids: Record<string, number> = {};
  if (api) pids.api = api.pid;
  for (const worker of workers) pids[worker.name] = worker.pid;
  pids.bench = process.pid;
  return pids;
}

function pollCommits({ sql }: Run, workers: Child[], workerLog: WorkerLog): CommitPoller {
  const commits = new CommitPoller(sql, workers, () => workerLog.settledRows);
  onCleanup("stop polling", async () => commits.stop());
  return commits;
}

/** Samples the processes at the last commit, then stops the pipeline and sums up the phase. */
async function finish(run: Run, workerLog: WorkerLog, driven: Driven): Promise<PipelineRun> {
  const { load, backlog, api, workers, commits } = driven;
  run.progress.stop();
  const after = samplePhase(measuredPids(api, workers));
  const acceptedRows = load ? load.acceptedRows : (backlog as Backlog).produce.rows;
  // The workers' own "DB Committed" lines give the exact end; the poll is the fallback.
  const commitEndMs =
    workerLog.lastCommitAtMs !== undefined && workerLog.settledRows >= acceptedRows
      ? workerLog.lastCommitAtMs
      : (commits.reachedAtMs ?? performance.now());

  // The last scrape sees the lag after the last commit (the workers poll Kafka every WORKER_LAG_POLL_MS).
  await Bun.sleep(lagSettleMs);
  const lag = await driven.lag.stop();
  // Stop the pipeline (a worker commits its offsets on the way out), then look at what it left.
  run.say("stopping the API and the worker ...");
  await Promise.all([api?.stop(), ...workers.map((worker) => worker.stop())]);
  return {
    load,
    backlog,
    acceptedRows,
    phaseStartedAt: driven.phaseStartedAt,
    phaseSeconds: seconds(driven.phaseStartMs, commitEndMs),
    acceptSeconds: seconds(driven.acceptStartMs, driven.acceptEndMs),
    commitSeconds: seconds(driven.commitStartMs, commitEndMs),
    figures: phaseFigures(driven.before, after, acceptedRows),
    workerLog,
    apiProduce: driven.apiProduce(),
    lag,
  };
}

function seconds(fromMs: number, toMs: number): number {
  return Math.max(0, (toMs - fromMs) / 1000);
}
