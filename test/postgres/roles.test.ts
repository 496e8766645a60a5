// Least privilege: roles of this test's own (roles are cluster wide; many
// runs share the server), made by ensureRoles in a database of its own, then
// dropped. The API's role may only read; the worker's may only append, and
// its whole write path (direct COPY, staging table, rejections, summary
// trigger) works with that.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { openDatabase, type Sql } from "../../src/postgres/connection.ts";
import { checkMigrated } from "../../src/postgres/migrate.ts";
import { insertRejections } from "../../src/postgres/rejections.ts";
import { ensureRoles, type Roles, RolesError, roleOf, scramVerifier, urlAs } from "../../src/postgres/roles.ts";
import { runRolePrefix } from "../support/abandoned.ts";
import { freshDatabase, sampleTransaction, type TestDatabase } from "../support/run.ts";
import { writeBatch } from "../support/writes.ts";

const prefix = `${runRolePrefix(process.env.TXLOG_TEST_RUN ?? "00000000")}${randomBytes(3).toString("hex")}`;
const roles: Roles = {
  api: { name: `${prefix}_api` },
  worker: { name: `${prefix}_worker`, password: "s3cret'quote" },
};
const outsider = `${prefix}_other`;

let db: TestDatabase;
let api: Sql;
let worker: Sql;

beforeAll(async () => {
  db = await freshDatabase("roles");
  expect((await ensureRoles(db.sql, roles)).sort()).toEqual([roles.api.name, roles.worker.name].sort());
  api = openDatabase(urlAs(db.url, roles.api.name), { poolMax: 2 });
  worker = openDatabase(urlAs(db.url, roles.worker.name), { poolMax: 2 });
});

afterAll(async () => {
  await Promise.all([api?.end(), worker?.end()]);
  // Dropping the database drops the roles' grants in it; then the roles can go.
  await db.drop();
  const admin = openDatabase(db.url.replace(/\/[^/]*$/, "/postgres"), { poolMax: 1 });
  for (const name of [roles.api.name, roles.worker.name, outsider]) await admin`DROP ROLE IF EXISTS ${admin(name)}`;
  await admin.end();
});

let offset = 0n;
const consumed = (overrides = {}) => ({ transaction: sampleTransaction(overrides), partition: 0, offset: offset++ });

/**
 * "42501 permission denied" when PostgreSQL refused for want of a right; the
 * append-only guard raises 42501 too, with its own message, so the message
 * tells which of the two refused.
 */
async function sqlstate(query: Promise<unknown>): Promise<string | undefined> {
  return query.then(
    () => undefined,
    (error: { code?: string; message?: string }) =>
      error.code === "42501" && /^(permission denied|must be owner)/.test(error.message ?? "")
        ? "42501"
        : `${error.code} ${error.message}`,
  );
}

test("db:roles is idempotent: a second run creates nothing and changes no right", async () => {
  expect(await ensureRoles(db.sql, roles)).toEqual([]);
  const [stored] = await db.sql<{ password: string }[]>`
    SELECT rolpassword AS password FROM pg_authid WHERE rolname = ${roles.worker.name}`;
  // The server got a SCRAM verifier, never the password itself.
  expect(stored?.password).toStartWith("SCRAM-SHA-256$4096:");
  expect(stored?.password).not.toContain("s3cret");
});

test("the worker's write path works as its role: direct COPY, staging after a redelivery, rejections", async () => {
  const rows = [consumed(), consumed({ type: "TRANSFER", amount: "1.10" })];
  expect(await writeBatch(worker, rows)).toMatchObject({ inserted: 2, path: "direct" });
  // The same batch again fails the direct COPY on the primary key and goes
  // through CREATE TEMP TABLE and INSERT … ON CONFLICT DO NOTHING.
  expect(await writeBatch(worker, [...rows, consumed()])).toMatchObject({
    inserted: 1,
    duplicates: 2,
    path: "staging",
  });
  await worker.begin((tx) =>
    insertRejections(tx, [
      {
        transactionId: sampleTransaction().transactionId,
        reason: "invalid_message",
        message: "amount: must be a number",
        errors: [{ field: "amount", rule: "must be a number" }],
        partition: 0,
        offset: offset++,
      },
    ]),
  );
  const [count] = await api<{ n: number }[]>`SELECT count(*)::int AS n FROM transactions`;
  expect(count?.n).toBe(3);
  const [summary] = await api<{ n: string }[]>`SELECT sum(count)::text AS n FROM transaction_summary`;
  expect(summary?.n).toBe("3");
  await checkMigrated(worker);
  await checkMigrated(api);
});

test("the API's role may only SELECT", async () => {
  const id = sampleTransaction().transactionId;
  for (const table of ["transactions", "rejections", "transaction_summary", "schema_migrations", "retention_audit"]) {
    expect(await sqlstate(api`SELECT 1 FROM ${api(table)} LIMIT 1`)).toBeUndefined();
  }
  expect(
    await sqlstate(api`INSERT INTO rejections (kafka_partition, kafka_offset, transaction_id, reason, message)
    VALUES (9, 9, ${id}, 'invalid_message', 'x')`),
  ).toBe("42501");
  expect(await sqlstate(api`UPDATE transactions SET step = 2`)).toBe("42501");
  expect(await sqlstate(api`DELETE FROM transactions`)).toBe("42501");
  expect(await sqlstate(api`UPDATE transaction_summary SET count = 0`)).toBe("42501");
  expect(await sqlstate(api`SELECT txlog_retention_delete(now(), 'no')`)).toBe("42501");
});

test("the worker's role may not UPDATE, DELETE, TRUNCATE, change the summary or run DDL", async () => {
  expect(await sqlstate(worker`UPDATE transactions SET step = 2`)).toBe("42501");
  expect(await sqlstate(worker`DELETE FROM transactions`)).toBe("42501");
  expect(await sqlstate(worker`TRUNCATE transactions`)).toBe("42501");
  expect(await sqlstate(worker`UPDATE rejections SET message = 'x'`)).toBe("42501");
  expect(await sqlstate(worker`DELETE FROM rejections`)).toBe("42501");
  expect(await sqlstate(worker`TRUNCATE rejections`)).toBe("42501");
  expect(await sqlstate(worker`UPDATE transaction_summary SET count = 0`)).toBe("42501");
  expect(await sqlstate(worker`CREATE TABLE public.sneaky (x int)`)).toBe("42501");
  expect(await sqlstate(worker`ALTER TABLE transactions DISABLE TRIGGER txlog_append_only`)).toBe("42501");
  expect(await sqlstate(worker`DROP TABLE transactions`)).toBe("42501");
  expect(await sqlstate(worker`SELECT txlog_retention_delete(now(), 'no')`)).toBe("42501");
});

test("a user who may not create roles is told what to do, and nothing is created", async () => {
  // The API's role connects as the "owner" here: no CREATEROLE.
  const error = await ensureRoles(api, { api: { name: outsider }, worker: roles.worker }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RolesError);
  expect((error as Error).message).toContain(
    `role "${outsider}" does not exist and the connecting user may not create roles`,
  );
  expect((error as Error).message).toContain("README.md (Database roles)");
  const [found] = await db.sql`SELECT 1 FROM pg_roles WHERE rolname = ${outsider}`;
  expect(found).toBeUndefined();
});

test("bad role settings are refused naming the rule", async () => {
  const owner = roleOf(db.url).name;
  await expect(ensureRoles(db.sql, { api: { name: owner }, worker: roles.worker })).rejects.toThrow(
    `the api role may not be the owner "${owner}"`,
  );
  await expect(ensureRoles(db.sql, { api: roles.worker, worker: roles.worker })).rejects.toThrow("two different roles");
  await expect(ensureRoles(db.sql, { api: { name: "Bad-Name" }, worker: roles.worker })).rejects.toThrow(
    "must be 1 to 63 of a-z, 0-9, '_'",
  );
});

test("a SCRAM verifier has PostgreSQL's layout and depends on the salt", () => {
  const salt = Buffer.alloc(16, 1);
  const verifier = scramVerifier("pencil", salt);
  expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
  expect(scramVerifier("pencil", salt)).toBe(verifier);
  expect(scramVerifier("pencil")).not.toBe(verifier);
});
