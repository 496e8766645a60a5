// What the summary trigger (sql/005_transaction_summary.sql) costs the write
// path, and what it saves GET /reports/summary: COPY of N generated PaySim
// rows in the worker's batch size, one transaction per batch, into a scratch
// database, batches alternately with the trigger and without; then the old
// full-scan summary against the aggregate's read at N rows.
//
//   bun bench/summary-cost.ts [--rows 1000000] [--batch 5000] [--passes 2]
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { paysimRows } from "../data/generate.ts";
import { summarize } from "../src/api/reads.ts";
import { dropDatabase, ensureDatabase, openDatabase, type Sql, withDatabase } from "../src/postgres/connection.ts";
import { migrate } from "../src/postgres/migrate.ts";
import { copyColumns, copyLine } from "../src/postgres/stored-row.ts";
import { loadConfig } from "../src/runtime/config.ts";
import { newTransactionId } from "../src/transaction/ids.ts";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    batch: { type: "string", default: "5000" },
    passes: { type: "string", default: "2" },
  },
});
const rows = Number(values.rows);
const batchRows = Number(values.batch);
const passes = Number(values.passes);

/** The batches' COPY text, encoded before any timing. */
function encodeBatches(): string[] {
  const batches: string[] = [];
  let lines: string[] = [];
  let offset = 0n;
  const acceptedAt = new Date().toISOString();
  for (const row of paysimRows({ rows })) {
    const transaction = {
      ...row,
      isFraud: row.isFraud === 1,
      isFlaggedFraud: row.isFlaggedFraud === 1,
      transactionId: newTransactionId(),
      acceptedAt,
    };
    lines.push(copyLine({ transaction, partition: 0, offset: offset++ }));
    if (lines.length === batchRows) {
      batches.push(lines.join(""));
      lines = [];
    }
  }
  if (lines.length > 0) batches.push(lines.join(""));
  return batches;
}

async function empty(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`ALTER TABLE transactions DISABLE TRIGGER txlog_append_only_truncate`;
    await tx`TRUNCATE transactions`;
    await tx`UPDATE transaction_summary SET count = 0, total_amount = 0, fraud_count = 0, flagged_fraud_count = 0`;
    await tx`ALTER TABLE transactions ENABLE ALWAYS TRIGGER txlog_append_only_truncate`;
  });
  await sql`VACUUM ANALYZE transactions`;
}

/** One batch in its own transaction, as the worker writes it; seconds. */
async function copyBatch(sql: Sql, batch: string): Promise<number> {
  const started = performance.now();
  await sql.begin(async (tx) => {
    const copy = await tx`COPY transactions (${tx(copyColumns)}) FROM STDIN`.writable();
    await pipeline(Readable.from([batch]), copy);
  });
  return (performance.now() - started) / 1000;
}

/**
 * Every batch once, the trigger on for one and off for the next (the pair's
 * order alternating), so both halves see the same table size and the same
 * load of a shared machine. Seconds with the trigger and without.
 */
async function copyInterleaved(sql: Sql, batches: string[]): Promise<Run> {
  await empty(sql);
  const took = { with: 0, without: 0, pairRatios: [] as number[] };
  let pair = { with: 0, without: 0 };
  for (let i = 0; i < batches.length; i++) {
    const trigger = (i + Math.floor(i / 2)) % 2 === 0;
    await (trigger
      ? sql`ALTER TABLE transactions ENABLE ALWAYS TRIGGER txlog_summary_add`
      : sql`ALTER TABLE transactions DISABLE TRIGGER txlog_summary_add`);
    const seconds = await copyBatch(sql, batches[i] as string);
    took[trigger ? "with" : "without"] += seconds;
    pair[trigger ? "with" : "without"] = seconds;
    if (i % 2 === 1) {
      took.pairRatios.push(pair.with / pair.without);
      pair = { with: 0, without: 0 };
    }
  }
  await sql`ALTER TABLE transactions ENABLE ALWAYS TRIGGER txlog_summary_add`;
  return took;
}

interface Run {
  with: number;
  without: number;
  /** Each neighbouring pair of batches: time with the trigger / time without. */
  pairRatios: number[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function medianMs(times: number, run: () => Promise<unknown>): Promise<number> {
  const took: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await run();
    took.push(performance.now() - started);
  }
  return took.sort((a, b) => a - b)[Math.floor(times / 2)] as number;
}

const base = loadConfig().databaseUrl;
const url = withDatabase(base, `txlog_bench_summary_${process.pid}`);
await ensureDatabase(url);
const sql = openDatabase(url, { poolMax: 1 });
try {
  await migrate(sql);
  const batches = encodeBatches();
  // The trigger function's own time, counted by PostgreSQL in this session.
  await sql`SET track_functions = 'pl'`;
  const runs: Run[] = [];
  for (let pass = 0; pass < passes; pass++) runs.push(await copyInterleaved(sql, batches));
  // The summary counts only the batches written with the trigger on.
  const scanMs = await medianMs(
    3,
    () => sql`
    SELECT type, count(*), coalesce(sum(amount), 0)::text, count(*) FILTER (WHERE is_fraud), count(*) FILTER (WHERE is_flagged_fraud)
    FROM transactions GROUP BY ROLLUP (type) ORDER BY type NULLS LAST`,
  );
  const aggregateMs = await medianMs(11, () => summarize(sql));
  await sql`SELECT pg_stat_force_next_flush()`;
  const [own] = await sql<{ ms: number; calls: number }[]>`
    SELECT self_time AS ms, calls::int AS calls FROM pg_stat_user_functions WHERE funcname = 'txlog_summary_add'`;
  const summary = await summarize(sql);
  const counted = batches
    .filter((_, i) => (i + Math.floor(i / 2)) % 2 === 0)
    .reduce((n, b) => n + b.split("\n").length - 1, 0);
  if (summary.count !== counted)
    throw new Error(`summary counts ${summary.count}, ${counted} rows were written with the trigger`);
  console.log(
    `${rows.toLocaleString("en-US")} rows in batches of ${batchRows}, alternately with and without the trigger, ${passes} passes:`,
  );
  for (const run of runs) {
    console.log(
      `  COPY with trigger ${run.with.toFixed(1)} s, without ${run.without.toFixed(1)} s: trigger cost ${((run.with / run.without - 1) * 100).toFixed(1)}% of COPY time (median of ${run.pairRatios.length} neighbouring pairs: ${((median(run.pairRatios) - 1) * 100).toFixed(1)}%)`,
    );
  }
  const withSeconds = runs.reduce((sum, run) => sum + run.with, 0);
  console.log(
    `  the trigger function itself: ${((own?.ms ?? 0) / 1000).toFixed(2)} s in ${own?.calls ?? 0} calls, ${(((own?.ms ?? 0) / 1000 / withSeconds) * 100).toFixed(1)}% of the COPY time with it`,
  );
  console.log(
    `  GET /reports/summary query at ${rows.toLocaleString("en-US")} rows: full scan ${scanMs.toFixed(0)} ms, aggregate ${aggregateMs.toFixed(2)} ms (medians)`,
  );
} finally {
  await sql.end();
  await dropDatabase(url);
}
