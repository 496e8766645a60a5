import { afterAll, expect, test } from "bun:test";
import { dropDatabase, ensureDatabase, openDatabase, withDatabase } from "../../src/postgres/connection.ts";
import { listMigrations, migrate } from "../../src/postgres/migrate.ts";
import { loadConfig } from "../../src/runtime/config.ts";

const config = loadConfig();
// A database of its own: the run's shared one is already migrated by the setup.
const url = withDatabase(config.databaseUrl, `${new URL(config.databaseUrl).pathname.slice(1)}_migrate`);
afterAll(() => dropDatabase(url));

async function schemaSnapshot(url: string) {
  const sql = openDatabase(url, { poolMax: 1 });
  try {
    const columns = await sql`
      SELECT table_name, column_name, data_type, is_nullable, column_default
      FROM information_schema.columns WHERE table_schema = 'public'
      ORDER BY table_name, ordinal_position`;
    const indexes =
      await sql`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`;
    const migrations = await sql`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`;
    return { columns: [...columns], indexes: [...indexes], migrations: [...migrations] };
  } finally {
    await sql.end();
  }
}

test("ensureDatabase creates a missing database, concurrently and idempotently", async () => {
  await Promise.all([ensureDatabase(url), ensureDatabase(url), ensureDatabase(url)]);
  const sql = openDatabase(url, { poolMax: 1 });
  const [row] = await sql`SELECT current_database() AS name`;
  await sql.end();
  expect(row?.name).toBe(new URL(url).pathname.slice(1));
});

test("migrations apply once in order even when two processes race, and a second run changes nothing", async () => {
  const files = await listMigrations();
  expect(files.length).toBeGreaterThan(0);
  const a = openDatabase(url, { poolMax: 1 });
  const b = openDatabase(url, { poolMax: 1 });
  const [first, second] = await Promise.all([migrate(a), migrate(b)]);
  // Exactly one of the two applied everything; the other found nothing to do.
  expect([...first, ...second]).toEqual(files.map((m) => m.version));

  const before = await schemaSnapshot(url);
  expect(before.columns.some((c) => c.table_name === "transactions" && c.column_name === "amount")).toBe(true);
  expect(await migrate(a)).toEqual([]);
  const after = await schemaSnapshot(url);
  expect(after).toEqual(before);
  await a.end();
  await b.end();
});
