import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import fc from "fast-check";
import { WriteInvariantError, writeBatchIsolating, writeStagingLines } from "../../src/pipeline/copy-writer.ts";
import { copyRow } from "../../src/postgres/copy-text.ts";
import { type ConsumedTransaction, copyLine } from "../../src/postgres/stored-row.ts";
import type { AcceptedTransaction } from "../../src/transaction/rules.ts";
import { emptyTransactions } from "../support/append-only.ts";
import { parseCopyRow } from "../support/copy-text.ts";
import { freshDatabase, sampleTransaction, type TestDatabase } from "../support/run.ts";
import { writeBatch } from "../support/writes.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase("sink");
});
afterAll(() => db.drop());
beforeEach(async () => {
  await emptyTransactions(db.sql);
});

const transaction = sampleTransaction;

let nextOffset = 0n;
function row(overrides: Partial<AcceptedTransaction> = {}, partition = 0): ConsumedTransaction {
  return { transaction: transaction(overrides), partition, offset: nextOffset++ };
}

test("writes every field exactly: money as the same decimal, flags, Kafka position, status", async () => {
  const rows = [
    row({ amount: "10000000000000.00", type: "TRANSFER", isFraud: true, step: 743 }, 2),
    // A backslash is a valid name character and the COPY escape character.
    row({ nameOrig: "C\\N\\t", nameDest: "M\\\\" }, 1),
  ];
  expect(await writeBatch(db.sql, rows)).toEqual({ inserted: 2, duplicates: 0, path: "direct", keyConflicts: 0 });

  const stored = await db.sql`
    SELECT transaction_id, step, type, amount::text, name_orig, oldbalance_org::text, newbalance_orig::text,
           name_dest, is_fraud, is_flagged_fraud, status, accepted_at, committed_at, kafka_partition, kafka_offset
    FROM transactions ORDER BY kafka_offset`;
  expect(stored.length).toBe(2);
  const [first, second] = stored as unknown as [Record<string, unknown>, Record<string, unknown>];
  const [a, b] = rows as [ConsumedTransaction, ConsumedTransaction];
  expect(first).toMatchObject({
    transaction_id: a.transaction.transactionId,
    step: 743,
    type: "TRANSFER",
    amount: "10000000000000.00",
    oldbalance_org: "170136.00",
    newbalance_orig: "160296.36",
    is_fraud: true,
    is_flagged_fraud: false,
    status: "Completed",
    kafka_partition: 2,
    kafka_offset: a.offset.toString(),
  });
  expect((first.accepted_at as Date).toISOString()).toBe("2024-05-01T12:00:00.000Z");
  expect(Math.abs((first.committed_at as Date).getTime() - Date.now())).toBeLessThan(60_000);
  expect(second).toMatchObject({ name_orig: "C\\N\\t", name_dest: "M\\\\", kafka_partition: 1 });
  expect(b.transaction.nameOrig).toBe("C\\N\\t");
});

test("writing the same rows again inserts nothing; an id twice in one batch is one row, the first read", async () => {
  const rows = [row(), row(), row()];
  expect(await writeBatch(db.sql, rows)).toEqual({ inserted: 3, duplicates: 0, path: "direct", keyConflicts: 0 });
  // The direct COPY fails on the first stored id; the staging path skips all three.
  expect(await writeBatch(db.sql, rows)).toEqual({ inserted: 0, duplicates: 3, path: "staging", keyConflicts: 0 });

  const twice = row({ amount: "1.00" });
  const again: ConsumedTransaction = {
    ...twice,
    transaction: { ...twice.transaction, amount: "2.00" },
    offset: twice.offset + 100n,
  };
  // The same id with another transaction: recorded Rejected idempotency_key_reused, counted as a key conflict.
  expect(await writeBatch(db.sql, [again, twice])).toEqual({
    inserted: 1,
    duplicates: 1,
    path: "staging",
    keyConflicts: 1,
  });
  const [stored] =
    await db.sql`SELECT amount::text, kafka_offset FROM transactions WHERE transaction_id = ${twice.transaction.transactionId}`;
  expect(stored).toEqual({ amount: "1.00", kafka_offset: twice.offset.toString() });
  const [{ count }] = (await db.sql`SELECT count(*)::integer AS count FROM transactions`) as unknown as [
    { count: number },
  ];
  expect(count).toBe(4);
});

test("a row the database refuses is isolated; the rest of the batch is written", async () => {
  // Passes decodeMessage (Date.parse accepts it) but is no PostgreSQL timestamp.
  const bad = row({ acceptedAt: "2024-02-30" });
  const good = Array.from({ length: 7 }, () => row());
  await expect(writeBatch(db.sql, [...good.slice(0, 3), bad, ...good.slice(3)])).rejects.toMatchObject({
    code: "22008",
  });

  const result = await writeBatchIsolating(db.sql, [...good.slice(0, 3), bad, ...good.slice(3)]);
  expect(result.inserted).toBe(7);
  expect(result.rejected.map((r) => r.row)).toEqual([bad]);
  expect(result.rejected[0]?.reason).toContain("22008");
  const ids = await db.sql`SELECT transaction_id FROM transactions`;
  expect(ids.map((r) => r.transaction_id).sort()).toEqual(good.map((r) => r.transaction.transactionId).sort());
});

test("errors that are not about the data are thrown, not isolated", async () => {
  await db.sql`ALTER TABLE transactions RENAME TO transactions_away`;
  try {
    await expect(writeBatchIsolating(db.sql, [row(), row()])).rejects.toMatchObject({ code: "42P01" });
  } finally {
    await db.sql`ALTER TABLE transactions_away RENAME TO transactions`;
  }
});

test("the staging row count must equal the batch size, or nothing is written", async () => {
  const rows = [row(), row()];
  await expect(writeStagingLines(db.sql, rows.map(copyLine), 3)).rejects.toBeInstanceOf(WriteInvariantError);
  const [{ count }] = (await db.sql`SELECT count(*)::integer AS count FROM transactions`) as unknown as [
    { count: number },
  ];
  expect(count).toBe(0);
});

test("a COPY the server rejects after its last chunk ends at once in its error and a rollback (postgres.js patch)", async () => {
  // Two fields where the staging table has fifteen: PostgreSQL rejects the
  // COPY when it reads the line, after the client has sent CopyDone. Unpatched
  // postgres.js 3.4.9 never settles that COPY (porsager/postgres#1173).
  const started = Date.now();
  await expect(writeStagingLines(db.sql, ["x\ty\n"], 1, { copyTimeoutMs: 30_000 })).rejects.toMatchObject({
    code: "22P04",
  });
  expect(Date.now() - started).toBeLessThan(5_000);
  // The connection is usable and no transaction was left open on it.
  expect(await writeBatch(db.sql, [row()])).toEqual({ inserted: 1, duplicates: 0, path: "direct", keyConflicts: 0 });
  const open = await db.sql`
    SELECT count(*)::integer AS count FROM pg_stat_activity
    WHERE datname = current_database() AND state LIKE 'idle in transaction%'`;
  expect(open[0]?.count).toBe(0);
});

test("a stored id in the last line of a large batch: the direct COPY fails after CopyDone, the staging path writes the rest", async () => {
  const stored = row();
  expect(await writeBatch(db.sql, [stored])).toMatchObject({ inserted: 1, path: "direct" });
  const fresh = Array.from({ length: 4_999 }, () => row());
  const started = Date.now();
  expect(await writeBatch(db.sql, [...fresh, stored], { copyTimeoutMs: 30_000 })).toEqual({
    inserted: 4_999,
    duplicates: 1,
    path: "staging",
    keyConflicts: 0,
  });
  expect(Date.now() - started).toBeLessThan(10_000);
  const [{ count }] = (await db.sql`SELECT count(*)::integer AS count FROM transactions`) as unknown as [
    { count: number },
  ];
  expect(count).toBe(5_000);
});

test("direct: false goes the staging way even when the batch is all new", async () => {
  expect(await writeBatch(db.sql, [row(), row()], { direct: false })).toEqual({
    inserted: 2,
    duplicates: 0,
    path: "staging",
    keyConflicts: 0,
  });
});

test("property: the direct COPY and the staging path store exactly the same row", async () => {
  const name = fc.stringMatching(/^[\x21-\x7E]{1,64}$/);
  const cents = fc.bigInt({ min: 0n, max: 10n ** 15n }).map((c) => `${c / 100n}.${String(c % 100n).padStart(2, "0")}`);
  const arbitraryRow = fc.record({
    nameOrig: name,
    nameDest: name,
    amount: cents,
    oldbalanceDest: cents,
    step: fc.integer({ min: 1, max: 10_000 }),
    type: fc.constantFrom("CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER" as const),
    isFraud: fc.boolean(),
    isFlaggedFraud: fc.boolean(),
    apiKeyId: fc.option(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/), { nil: undefined }),
  });
  const read = () => db.sql`
    SELECT transaction_id, step, type, amount::text, name_orig, oldbalance_org::text, newbalance_orig::text,
           name_dest, oldbalance_dest::text, newbalance_dest::text, is_fraud, is_flagged_fraud, status,
           accepted_at, kafka_partition, kafka_offset, api_key_id
    FROM transactions ORDER BY kafka_offset`;
  await fc.assert(
    fc.asyncProperty(fc.array(arbitraryRow, { minLength: 1, maxLength: 20 }), async (overrides) => {
      // An absent key id is left out, as the API leaves it out.
      const rows = overrides.map(({ apiKeyId, ...o }, i) =>
        row({ ...o, ...(apiKeyId === undefined ? {} : { apiKeyId }) } as Partial<AcceptedTransaction>, i % 3),
      );
      await emptyTransactions(db.sql);
      const direct = await writeBatch(db.sql, rows);
      const viaDirect = await read();
      await emptyTransactions(db.sql);
      const staging = await writeBatch(db.sql, rows, { direct: false });
      const viaStaging = await read();
      expect([direct.path, staging.path]).toEqual(["direct", "staging"]);
      expect(viaDirect.length).toBe(rows.length);
      expect(viaDirect).toEqual(viaStaging);
      expect(viaDirect.map((r) => r.api_key_id)).toEqual(rows.map((r) => r.transaction.apiKeyId ?? null));
    }),
    { numRuns: 30 },
  );
});

test("a staging line is exactly the COPY row of the fields, for any printable name (backslash included) and API key id or none", () => {
  const name = fc.stringMatching(/^[\x21-\x7E]{1,64}$/);
  const keyId = fc.option(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/), { nil: undefined });
  fc.assert(
    fc.property(name, name, fc.bigInt({ min: 0n, max: 2n ** 62n }), keyId, (nameOrig, nameDest, offset, apiKeyId) => {
      const t = transaction({ nameOrig, nameDest, isFraud: true, ...(apiKeyId === undefined ? {} : { apiKeyId }) });
      const line = copyLine({ transaction: t, partition: 2, offset });
      const fields = [
        t.transactionId,
        String(t.step),
        t.type,
        t.amount,
        t.nameOrig,
        t.oldbalanceOrg,
        t.newbalanceOrig,
        t.nameDest,
        t.oldbalanceDest,
        t.newbalanceDest,
        "t",
        "f",
        t.acceptedAt,
        "2",
        String(offset),
        apiKeyId ?? null,
      ];
      return line === copyRow(fields) && JSON.stringify(parseCopyRow(line)) === JSON.stringify(fields);
    }),
  );
});
