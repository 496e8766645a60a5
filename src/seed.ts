// Puts a first, small set of PaySim rows straight into PostgreSQL, so reports
// have something to show before any client has posted: `bun run seed [--file F]`.
// Ids derive from the file line (`seed:<line>`), so seeding again inserts
// nothing new. Seeded rows bypass Kafka on purpose: they were never
// "accepted", which is why kafka_partition/kafka_offset stay NULL.
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Sql } from "./postgres/connection.ts";
import { transactionColumns } from "./postgres/stored-row.ts";
import { transactionIdForKey } from "./transaction/ids.ts";
import { describeRecord, readPaySimCsv } from "./transaction/paysim-csv.ts";

export const defaultSeedFile = join(import.meta.dir, "..", "data", "paysim-sample.csv");
export const defaultSeedRows = 100;
/** Rows per INSERT; far below PostgreSQL's 65,535 parameters (14 per row). */
const insertRowsMax = 1_000;
/** Seeded rows are accepted at this time plus their line in milliseconds: distinct, in file order, in the past. */
export const seedAcceptedAtBaseMs = Date.UTC(2025, 0, 1);
/** Bad lines kept for the report at most; the rest are only counted. */
const problemsMax = 20;

export interface SeedResult {
  /** Valid rows read from the file (at most the rows asked for). */
  rows: number;
  inserted: number;
  alreadyPresent: number;
  /** Invalid lines skipped on the way, and the first of their descriptions. */
  invalidLines: number;
  problems: string[];
}

/** Writes the first `rows` valid rows of a PaySim file into `transactions` (database already migrated). */
export async function seed(sql: Sql, file = defaultSeedFile, rows = defaultSeedRows): Promise<SeedResult> {
  if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`rows must be an integer >= 0 (got ${rows})`);
  const result: SeedResult = { rows: 0, inserted: 0, alreadyPresent: 0, invalidLines: 0, problems: [] };
  let batch: ReturnType<typeof transactionColumns>[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const written = await sql`
      INSERT INTO transactions ${sql(batch)}
      ON CONFLICT (transaction_id) DO NOTHING
      RETURNING transaction_id`;
    result.inserted += written.length;
    result.alreadyPresent += batch.length - written.length;
    batch = [];
  };
  if (rows === 0) return result;
  for await (const record of readPaySimCsv(file)) {
    if (!record.checked.ok) {
      result.invalidLines += 1;
      if (result.problems.length < problemsMax) result.problems.push(describeRecord(record));
      continue;
    }
    batch.push(
      transactionColumns(
        transactionIdForKey(`seed:${record.line}`),
        new Date(seedAcceptedAtBaseMs + record.line),
        record.checked.value,
      ),
    );
    result.rows += 1;
    if (batch.length === insertRowsMax) await flush();
    if (result.rows === rows) break;
  }
  await flush();
  return result;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { file: { type: "string" } }, strict: true });
  const { loadConfigOrExit } = await import("./runtime/config.ts");
  const { ensureDatabase, openDatabase } = await import("./postgres/connection.ts");
  const { migrate } = await import("./postgres/migrate.ts");
  const log = (await import("./runtime/logger.ts")).roleLogger("seed");
  const config = loadConfigOrExit();
  const file = values.file ?? defaultSeedFile;
  await ensureDatabase(config.databaseUrl);
  const sql = openDatabase(config.databaseUrl, { poolMax: 1 });
  try {
    await migrate(sql);
    const result = await seed(sql, file);
    for (const problem of result.problems) log.warn(`seed: skipped ${problem}`);
    if (result.invalidLines > result.problems.length) {
      log.warn(`seed: … and ${result.invalidLines - result.problems.length} more invalid lines`);
    }
    console.log(
      `seeded ${result.rows} rows from ${file}: ${result.inserted} inserted, ${result.alreadyPresent} already present`,
    );
    if (result.rows < defaultSeedRows) {
      log.warn(`seed: ${file} has only ${result.rows} valid rows of the ${defaultSeedRows} wanted`);
    }
    // Nothing valid at all means the wrong file, not a short one.
    if (result.rows === 0) process.exitCode = 1;
  } finally {
    await sql.end();
  }
}
