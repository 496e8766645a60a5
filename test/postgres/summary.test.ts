// GET /reports/summary reads transaction_summary, which the batch's own
// transaction keeps (sql/005_transaction_summary.sql). It must equal a full
// scan of the log after any mix of writes: direct COPY, redelivered batches
// (staging, ON CONFLICT DO NOTHING), isolated refused rows, rolled-back
// batches and workers committing at once.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { summarize } from "../../src/api/reads.ts";
import { writeBatchIsolating } from "../../src/pipeline/copy-writer.ts";
import type { ConsumedTransaction } from "../../src/postgres/stored-row.ts";
import type { TransactionType } from "../../src/transaction/rules.ts";
import { freshDatabase, sampleTransaction, type TestDatabase } from "../support/run.ts";
import { writeBatch } from "../support/writes.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase("summary");
});
afterAll(() => db.drop());

const types: TransactionType[] = ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"];
let offset = 0n;
function rows(n: number, partition = 0): ConsumedTransaction[] {
  return Array.from({ length: n }, (_, i) => ({
    transaction: sampleTransaction({
      type: types[(i * 7 + Number(offset)) % types.length],
      amount: `${(i * 37) % 100000}.${String(i % 100).padStart(2, "0")}`,
      isFraud: i % 3 === 0,
      isFlaggedFraud: i % 11 === 0,
    }),
    partition,
    offset: offset++,
  }));
}

/** The summary the slow way: a full scan, as GET /reports/summary used to compute it. */
async function scanned() {
  const byType = await db.sql<{ type: string; count: number; total: string; fraud: number; flagged: number }[]>`
    SELECT type, count(*)::int AS count, sum(amount)::text AS total,
           (count(*) FILTER (WHERE is_fraud))::int AS fraud, (count(*) FILTER (WHERE is_flagged_fraud))::int AS flagged
    FROM transactions GROUP BY type ORDER BY type`;
  return byType.map((t) => ({
    type: t.type,
    count: t.count,
    totalAmount: t.total,
    fraudCount: t.fraud,
    flaggedFraudCount: t.flagged,
  }));
}

async function expectExact() {
  const summary = await summarize(db.sql);
  const scan = await scanned();
  expect(summary.byType).toEqual(scan as never);
  expect(summary.count).toBe(scan.reduce((sum, t) => sum + t.count, 0));
  return summary;
}

test("direct COPY batches are counted once each", async () => {
  await writeBatch(db.sql, rows(500));
  await writeBatch(db.sql, rows(37, 1));
  expect((await expectExact()).count).toBe(537);
});

test("a redelivered batch (staging path, ON CONFLICT DO NOTHING) adds only its new rows", async () => {
  const batch = rows(300);
  await writeBatch(db.sql, batch);
  const before = (await summarize(db.sql)).count;
  const again = await writeBatch(db.sql, [...batch, ...rows(5)]);
  expect(again).toMatchObject({ path: "staging", inserted: 5, duplicates: 300 });
  expect((await expectExact()).count).toBe(before + 5);
  // And a batch holding the same id twice.
  const twice = rows(3);
  await writeBatch(db.sql, [...twice, twice[0] as ConsumedTransaction], { direct: false });
  expect((await expectExact()).count).toBe(before + 8);
});

test("a batch that rolls back leaves the summary as it was; isolated refused rows are not counted", async () => {
  const before = await expectExact();
  const bad = rows(4);
  (bad[2] as ConsumedTransaction).transaction.step = 10001;
  await expect(writeBatch(db.sql, bad)).rejects.toThrow();
  expect(await expectExact()).toEqual(before);
  const isolated = await writeBatchIsolating(db.sql, bad);
  expect(isolated.rejected.length).toBe(1);
  expect((await expectExact()).count).toBe(before.count + 3);
});

test("workers committing batches at once neither deadlock nor lose counts", async () => {
  const before = (await summarize(db.sql)).count;
  const writers = 4;
  const rounds = 6;
  const shared = rows(50);
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let round = 0; round < rounds; round++) {
        // Every type in every batch, so each batch locks all five summary rows;
        // and a batch the others also write, so staging paths race too.
        await writeBatch(db.sql, round === w ? shared : rows(200, w));
      }
    }),
  );
  expect((await expectExact()).count).toBe(before + writers * (rounds - 1) * 200 + 50);
}, 60_000);
