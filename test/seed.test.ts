import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropDatabase, openDatabase, withDatabase } from "../src/postgres/connection.ts";
import { defaultSeedFile, seed, seedAcceptedAtBaseMs } from "../src/seed.ts";
import { transactionIdForKey } from "../src/transaction/ids.ts";
import { headerField, paysimHeader } from "../src/transaction/paysim-csv.ts";
import { freshDatabase, testConfig } from "./support/run.ts";

const dir = await mkdtemp(join(tmpdir(), "txlog-seed-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The sample's first data lines, split by hand: an oracle independent of the CSV reader. */
async function sampleLines(count: number): Promise<{ line: number; fields: string[] }[]> {
  const text = await Bun.file(defaultSeedFile).text();
  return text
    .split("\n")
    .slice(1, count + 1)
    .map((row, index) => ({ line: index + 2, fields: row.split(",") }));
}

test("seeding twice leaves exactly 100 Completed rows with the file's exact amounts", async () => {
  const db = await freshDatabase("seed");
  try {
    expect(await seed(db.sql)).toEqual({ rows: 100, inserted: 100, alreadyPresent: 0, invalidLines: 0, problems: [] });
    expect(await seed(db.sql)).toEqual({ rows: 100, inserted: 0, alreadyPresent: 100, invalidLines: 0, problems: [] });

    const stored = await db.sql`
      SELECT transaction_id::text AS id, step, type, status, is_fraud, is_flagged_fraud, accepted_at,
             name_orig, name_dest, kafka_partition, kafka_offset,
             amount::text AS amount, oldbalance_org::text AS oldbalance_org, newbalance_orig::text AS newbalance_orig,
             oldbalance_dest::text AS oldbalance_dest, newbalance_dest::text AS newbalance_dest
      FROM transactions`;
    expect(stored.length).toBe(100);
    const byId = new Map(stored.map((row) => [row.id as string, row]));
    for (const { line, fields } of await sampleLines(100)) {
      const row = byId.get(transactionIdForKey(`seed:${line}`));
      if (row === undefined) throw new Error(`line ${line} was not seeded`);
      const [step, type, amount, nameOrig, oldOrig, newOrig, nameDest, oldDest, newDest, isFraud, isFlagged] = fields;
      expect(row).toMatchObject({
        step: Number(step),
        type,
        status: "Completed",
        amount,
        name_orig: nameOrig,
        oldbalance_org: oldOrig,
        newbalance_orig: newOrig,
        name_dest: nameDest,
        oldbalance_dest: oldDest,
        newbalance_dest: newDest,
        is_fraud: isFraud === "1",
        is_flagged_fraud: isFlagged === "1",
        kafka_partition: null,
        kafka_offset: null,
      });
      expect((row.accepted_at as Date).getTime()).toBe(seedAcceptedAtBaseMs + line);
    }

    // Newest first is well defined: the last seeded line leads, with no ties.
    const newest = await db.sql`SELECT transaction_id::text AS id FROM transactions ORDER BY accepted_at DESC LIMIT 1`;
    expect(newest[0]?.id).toBe(transactionIdForKey("seed:101"));
    const [{ distinct }] = (await db.sql`SELECT count(DISTINCT accepted_at)::int AS distinct FROM transactions`) as [
      { distinct: number },
    ];
    expect(distinct).toBe(100);
  } finally {
    await db.drop();
  }
});

test("invalid rows are skipped and named; a file that is not PaySim seeds nothing", async () => {
  const db = await freshDatabase("seed_bad");
  try {
    const rows = (await sampleLines(3)).map(({ fields }) => fields.join(","));
    const file = join(dir, "mixed.csv");
    await Bun.write(file, [paysimHeader, rows[0], "1,PAYMENT,-5.00,C1,0,0,M1,0,0,0,0", rows[1], rows[2]].join("\n"));
    const result = await seed(db.sql, file, 2);
    expect(result).toEqual({
      rows: 2,
      inserted: 2,
      alreadyPresent: 0,
      invalidLines: 1,
      problems: [expect.stringMatching(/^line 3: amount: /)],
    });
    const ids = await db.sql`SELECT transaction_id::text AS id FROM transactions ORDER BY accepted_at`;
    expect(ids.map((row) => row.id)).toEqual([transactionIdForKey("seed:2"), transactionIdForKey("seed:4")]);

    const wrong = join(dir, "wrong.csv");
    await Bun.write(wrong, `id,amount\n1,2.00\n`);
    const refused = await seed(db.sql, wrong);
    expect(refused).toMatchObject({ rows: 0, inserted: 0, invalidLines: 1 });
    expect(refused.problems[0]).toContain(`line 1: ${headerField}: must be ${paysimHeader}`);
  } finally {
    await db.drop();
  }
});

test("`bun run seed` creates and migrates a missing database, then reports inserted vs present", async () => {
  const config = testConfig();
  const url = withDatabase(config.databaseUrl, `${new URL(config.databaseUrl).pathname.slice(1)}_seed_cli`);
  await dropDatabase(url);
  try {
    const run = async () => {
      const child = Bun.spawn(["bun", "run", "src/seed.ts"], {
        env: { ...process.env, DATABASE_URL: url },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, out, err] = await Promise.all([
        child.exited,
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      expect(err).toBe("");
      expect(code).toBe(0);
      return out;
    };
    expect(await run()).toContain("100 inserted, 0 already present");
    expect(await run()).toContain("0 inserted, 100 already present");
    const sql = openDatabase(url, { poolMax: 1 });
    const [{ count }] = (await sql`SELECT count(*)::int AS count FROM transactions`) as [{ count: number }];
    await sql.end();
    expect(count).toBe(100);
  } finally {
    await dropDatabase(url);
  }
});
