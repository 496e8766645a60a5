// What the summary trigger (sql/005_transaction_summary.sql) costs the write
// path, and what it saves GET /reports/summary: COPY of N generated PaySim
// rows in the worker's batch size, one transaction per batch, into a scratch
// database, with the trigger and without, alternated; then the old full-scan
// summary against the aggregate's read at N rows.
//
//   bun bench/summary-cost.ts [--rows 1000000] [--batch 5000] [--pairs 2]
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
    pairs: { type: "string", default: "2" },
  },
});
const rows = Number(values.rows);
const batchRows = Number(values.batch);
const pairs = Number(values.pairs);

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

/** Seconds to COPY every batch, each in its own transaction, as the worker does. */
async function copyAll(sql: Sql, batches: string[], trigger: boolean): Promise<number> {
  await empty(sql);
  await (trigger
    ? sql`ALTER TABLE transactions ENABLE ALWAYS TRIGGER txlog_summary_add`
    : sql`ALTER TABLE transactions DISABLE TRIGGER txlog_summary_add`);
  const started = performance.now();
  for (const batch of batches) {
    await sql.begin(async (tx) => {
      const copy = await tx`COPY transactions (${tx(copyColumns)}) FROM STDIN`.writable();
      await pipeline(Readable.from([batch]), copy);
    });
  }
  return (performance.now() - started) / 1000;
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
  const withTrigger: number[] = [];
  const without: number[] = [];
  for (let pair = 0; pair < pairs; pair++) {
    without.push(await copyAll(sql, batches, false));
    withTrigger.push(await copyAll(sql, batches, true));
  }
  // The last run kept the summary: it must match the scan.
  const scanMs = await medianMs(
    3,
    () => sql`
    SELECT type, count(*), coalesce(sum(amount), 0)::text, count(*) FILTER (WHERE is_fraud), count(*) FILTER (WHERE is_flagged_fraud)
    FROM transactions GROUP BY ROLLUP (type) ORDER BY type NULLS LAST`,
  );
  const aggregateMs = await medianMs(11, () => summarize(sql));
  const summary = await summarize(sql);
  if (summary.count !== rows) throw new Error(`summary counts ${summary.count}, ${rows} rows were written`);
  const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / list.length;
  const rate = (seconds: number) => Math.round(rows / seconds).toLocaleString("en-US");
  console.log(`${rows.toLocaleString("en-US")} rows in batches of ${batchRows}, ${pairs} pairs (without, with):`);
  console.log(
    `  COPY without trigger: ${without.map((s) => s.toFixed(1)).join(", ")} s (mean ${rate(mean(without))} rows/s)`,
  );
  console.log(
    `  COPY with trigger:    ${withTrigger.map((s) => s.toFixed(1)).join(", ")} s (mean ${rate(mean(withTrigger))} rows/s)`,
  );
  console.log(`  trigger cost: ${((mean(withTrigger) / mean(without) - 1) * 100).toFixed(1)}% of COPY time`);
  console.log(
    `  GET /reports/summary query: full scan ${scanMs.toFixed(0)} ms, aggregate ${aggregateMs.toFixed(2)} ms (medians)`,
  );
} finally {
  await sql.end();
  await dropDatabase(url);
}
