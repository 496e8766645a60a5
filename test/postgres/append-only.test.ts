// The log is append-only for everyone, enforced by PostgreSQL: this test
// connects as the owner, who is a superuser in the default local setup, and
// every UPDATE, DELETE and TRUNCATE is still refused. The one way out is
// txlog_retention_delete, which is audited.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { summarize } from "../../src/api/reads.ts";
import { insertRejections } from "../../src/postgres/rejections.ts";
import { freshDatabase, sampleTransaction, type TestDatabase } from "../support/run.ts";
import { writeBatch } from "../support/writes.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase("append_only");
});
afterAll(() => db.drop());

let offset = 0n;
const consumed = (overrides = {}) => ({ transaction: sampleTransaction(overrides), partition: 1, offset: offset++ });

async function refusal(query: Promise<unknown>): Promise<{ code?: string; message?: string } | undefined> {
  return query.then(
    () => undefined,
    (error: { code?: string; message?: string }) => error,
  );
}

async function counts() {
  const [row] = await db.sql<{ transactions: number; rejections: number }[]>`
    SELECT (SELECT count(*)::int FROM transactions) AS transactions, (SELECT count(*)::int FROM rejections) AS rejections`;
  return row;
}

test("the connecting owner is a superuser here, so the guard is what refuses", async () => {
  const [me] = await db.sql<
    { superuser: boolean }[]
  >`SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`;
  expect(me?.superuser).toBe(true);
});

test("UPDATE, DELETE and TRUNCATE on transactions and rejections are refused for the owner, nothing changes", async () => {
  await writeBatch(db.sql, [consumed(), consumed()]);
  await db.sql.begin((tx) =>
    insertRejections(tx, [
      {
        transactionId: sampleTransaction().transactionId,
        reason: "invalid_message",
        message: "step: must be an integer",
        errors: [],
        partition: 1,
        offset: offset++,
      },
    ]),
  );
  const before = await counts();
  for (const table of ["transactions", "rejections"]) {
    for (const [operation, query] of [
      ["UPDATE", db.sql`UPDATE ${db.sql(table)} SET kafka_partition = 7`],
      ["DELETE", db.sql`DELETE FROM ${db.sql(table)}`],
      ["TRUNCATE", db.sql`TRUNCATE ${db.sql(table)}`],
    ] as const) {
      const error = await refusal(query);
      expect(error?.code, `${operation} on ${table}`).toBe("42501");
      expect(error?.message).toBe(`txlog: ${operation} on ${table} refused: the log is append-only`);
    }
  }
  expect(await counts()).toEqual(before);
});

test("session_replication_role = replica, which skips ordinary triggers, does not skip the guard", async () => {
  const error = await refusal(
    db.sql.begin(async (tx) => {
      await tx`SET LOCAL session_replication_role = replica`;
      await tx`DELETE FROM transactions`;
    }),
  );
  expect(error?.message).toBe("txlog: DELETE on transactions refused: the log is append-only");
});

test("retention removes what is older, audits who, when, the range, the counts and why; plain DELETE stays refused", async () => {
  const old = [consumed({ acceptedAt: "2020-01-01T00:00:00.000Z", amount: "5.00", type: "DEBIT" })];
  await writeBatch(db.sql, old);
  const before = await counts();
  const summaryBefore = await summarize(db.sql);
  const [row] = await db.sql<{ audit: string }[]>`
    SELECT txlog_retention_delete('2021-01-01T00:00:00Z', '  GDPR request 42  ') AS audit`;
  expect(await counts()).toEqual({
    transactions: (before?.transactions as number) - 1,
    rejections: before?.rejections as number,
  });
  const [audit] = await db.sql<Record<string, unknown>[]>`
    SELECT * FROM retention_audit WHERE audit_id = ${row?.audit as string}`;
  if (audit === undefined) throw new Error("no audit row");
  expect(audit).toMatchObject({
    requested_by: "postgres",
    transactions_deleted: "1",
    rejections_deleted: "0",
    reason: "GDPR request 42",
  });
  expect((audit.deleted_before as Date).toISOString()).toBe("2021-01-01T00:00:00.000Z");
  expect(Math.abs((audit.requested_at as Date).getTime() - Date.now())).toBeLessThan(60_000);
  // The summary lost exactly the removed row.
  const summary = await summarize(db.sql);
  expect(summary.count).toBe(summaryBefore.count - 1);
  expect(summary.byType.find((t) => t.type === "DEBIT")).toBeUndefined();

  expect((await refusal(db.sql`DELETE FROM transactions`))?.code).toBe("42501");
  expect((await refusal(db.sql`DELETE FROM retention_audit`))?.message).toBe(
    "txlog: DELETE on retention_audit refused: the log is append-only",
  );
  expect((await refusal(db.sql`UPDATE retention_audit SET reason = 'nothing to see'`))?.code).toBe("42501");
});

test("retention refuses a time in the future or a missing reason, and removes nothing", async () => {
  const before = await counts();
  const future = await refusal(db.sql`SELECT txlog_retention_delete(now() + interval '1 day', 'oops')`);
  expect(future?.code).toBe("22023");
  expect(future?.message).toContain("before must be a time in the past");
  const blank = await refusal(db.sql`SELECT txlog_retention_delete('2021-01-01T00:00:00Z', '   ')`);
  expect(blank?.message).toContain("reason must be 1 to 500 characters");
  expect(await counts()).toEqual(before);
  const [audits] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM retention_audit`;
  expect(audits?.n).toBe(1);
});
