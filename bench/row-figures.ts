// What the stored rows say once the pipeline has stopped: the accept-to-commit
// latencies and the ingest/commit series from their timestamps, and whether
// the run reconciled (every accepted row stored once, nothing dead-lettered).
import { endOffsets } from "../src/kafka/admin.ts";
import type { KafkaConnection } from "../src/kafka/client.ts";
import type { Sql } from "../src/postgres/connection.ts";
import { reconcile as reconcileLog } from "../src/reconcile.ts";
import type { Config } from "../src/runtime/config.ts";
import type { Reconciliation, Results } from "./report.ts";

/** Points of the rate chart at most, and the shortest bin of a run of several seconds. */
const seriesBinsMax = 60;
const seriesBinSecondsMin = 0.5;

export interface RowFigures {
  acceptToCommitMs: Results["pipeline"]["acceptToCommitMs"];
  series: Results["series"];
}

/** Accept-to-commit latency percentiles and the ingest/commit series, from the rows. */
export async function rowFigures(sql: Sql, startedAt: Date, durationSeconds: number): Promise<RowFigures> {
  const [latency] = await sql<{ p50: number | null; p95: number | null; p99: number | null }[]>`
    SELECT
      percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
      percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
    FROM (SELECT extract(epoch FROM committed_at - accepted_at) * 1000 AS ms FROM transactions) AS latencies`;
  const binSeconds = pickBin(durationSeconds);
  const accepted = await binCounts(sql, "accepted_at", startedAt, binSeconds);
  const committed = await binCounts(sql, "committed_at", startedAt, binSeconds);
  const length = Math.max(accepted.length, committed.length);
  const pad = (counts: number[]) => [...counts, ...new Array<number>(length - counts.length).fill(0)];
  return {
    acceptToCommitMs: {
      p50: Number(latency?.p50 ?? 0),
      p95: Number(latency?.p95 ?? 0),
      p99: Number(latency?.p99 ?? 0),
    },
    series: { binSeconds, accepted: pad(accepted), committed: pad(committed) },
  };
}

/** Rows per time bin of `column` from `startedAt`, empty bins included (up to the last non-empty one). */
async function binCounts(
  sql: Sql,
  column: "accepted_at" | "committed_at",
  startedAt: Date,
  binSeconds: number,
): Promise<number[]> {
  const rows = await sql<{ bin: number; n: number }[]>`
    SELECT greatest(0, floor(extract(epoch FROM ${sql(column)} - ${startedAt.toISOString()}::timestamptz) / ${binSeconds}))::integer AS bin,
           count(*)::integer AS n
    FROM transactions GROUP BY 1 ORDER BY 1`;
  const last = rows.length > 0 ? (rows[rows.length - 1] as { bin: number }).bin : -1;
  const counts = new Array<number>(last + 1).fill(0);
  for (const row of rows) counts[row.bin] = row.n;
  return counts;
}

/**
 * Time bin of the rate series: at most seriesBinsMax bins, and at least
 * seriesBinSecondsMin (or a tenth of a short run): the worker commits a
 * batch every few hundred milliseconds, and bins shorter than that make the
 * commit rate a comb of zeros and peaks.
 */
function pickBin(durationSeconds: number): number {
  const floor = Math.min(seriesBinSecondsMin, durationSeconds / 10);
  for (const bin of [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60]) {
    if (bin >= floor && durationSeconds / bin <= seriesBinsMax) return bin;
  }
  return 120;
}

/**
 * Compares what was offered, accepted, stored and dead-lettered, and runs
 * txlog's own reconcile over the run's topic; any difference or gap is a problem.
 */
export async function reconcile(
  config: Config,
  sql: Sql,
  connection: KafkaConnection,
  dlqTopic: string,
  accepted: number,
  offered: number,
): Promise<Reconciliation> {
  const [row] = await sql<{ n: string; distinct: string }[]>`
    SELECT count(*) AS n, count(DISTINCT transaction_id) AS distinct FROM transactions`;
  const committed = Number(row?.n ?? 0);
  const distinct = Number(row?.distinct ?? 0);
  let deadLettered = 0;
  for (const offset of (await endOffsets(connection, dlqTopic)).values()) deadLettered += Number(offset);
  const problems: string[] = [];
  if (accepted !== offered) problems.push(`${offered - accepted} of ${offered} rows were not accepted`);
  if (committed !== accepted)
    problems.push(`${committed} rows stored, ${accepted} accepted (gap ${committed - accepted})`);
  if (distinct !== committed) problems.push(`${committed - distinct} duplicate transaction ids`);
  if (deadLettered !== 0) problems.push(`${deadLettered} messages in the dead-letter topic ${dlqTopic}`);
  const log = await reconcileLog(config);
  const gaps = log.partitions.reduce((total, p) => total + p.gaps, 0);
  if (!log.ok) problems.push(`reconcile: ${gaps} messages of the topic neither stored nor rejected`);
  const reconcileSeconds = log.seconds.read + log.seconds.judge;
  return { ok: problems.length === 0, accepted, committed, distinct, deadLettered, gaps, reconcileSeconds, problems };
}
