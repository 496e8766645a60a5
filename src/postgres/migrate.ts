// Applies sql/NNN_name.sql in order, each once, recorded in schema_migrations.
// All pending files run in one transaction under an advisory lock, so the API
// and the worker starting together neither race nor apply a file twice.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Sql } from "./connection.ts";

export const migrationsDir = join(import.meta.dir, "..", "..", "sql");

/** Arbitrary, fixed: the key of txlog's migration advisory lock. */
const migrationLockKey = 7_356_021_001;

export interface Migration {
  version: number;
  name: string;
  file: string;
}

export async function listMigrations(dir = migrationsDir): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const file of (await readdir(dir)).sort()) {
    const match = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) continue;
    migrations.push({ version: Number(match[1]), name: match[2] as string, file: join(dir, file) });
  }
  for (let i = 1; i < migrations.length; i++) {
    if ((migrations[i] as Migration).version === (migrations[i - 1] as Migration).version) {
      throw new Error(`two migrations share version ${(migrations[i] as Migration).version} in ${dir}`);
    }
  }
  return migrations;
}

/** Applies the pending migrations; returns the versions it applied. */
export async function migrate(sql: Sql, dir = migrationsDir): Promise<number[]> {
  const migrations = await listMigrations(dir);
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${migrationLockKey})`;
    await tx`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer     PRIMARY KEY,
        name       text        NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM schema_migrations`;
    const done = new Set(rows.map((row) => row.version));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      // Migration files are the one place SQL text is run as a whole.
      await tx.file(migration.file).simple();
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${migration.version}, ${migration.name})`;
      applied.push(migration.version);
    }
    return applied;
  });
}

/**
 * For a process that connects as a role that may not migrate: throws naming
 * the migrations the database lacks, so it stops instead of meeting a
 * missing column mid-request.
 */
export async function checkMigrated(sql: Sql, dir = migrationsDir): Promise<void> {
  const wanted = await listMigrations(dir);
  const rows = await sql<{ version: number }[]>`SELECT version FROM schema_migrations`.catch((error) => {
    if ((error as { code?: string }).code === "42P01") return [];
    throw error;
  });
  const done = new Set(rows.map((row) => row.version));
  const missing = wanted.filter((migration) => !done.has(migration.version));
  if (missing.length > 0) {
    throw new Error(
      `the database lacks migrations ${missing.map((m) => m.version).join(", ")}: run \`bun run migrate\` as the owner (DATABASE_URL), then \`bun run db:roles\``,
    );
  }
}

if (import.meta.main) {
  const { loadConfigOrExit } = await import("../runtime/config.ts");
  const { ensureDatabase, openDatabase } = await import("./connection.ts");
  const config = loadConfigOrExit();
  await ensureDatabase(config.databaseUrl);
  const sql = openDatabase(config.databaseUrl, { poolMax: 1 });
  const applied = await migrate(sql);
  console.log(applied.length ? `applied migrations ${applied.join(", ")}` : "schema up to date");
  await sql.end();
}
