// PostgreSQL access: one postgres.js client per process, and creation of the
// configured database when it is missing.
import postgres from "postgres";

export type Sql = postgres.Sql;

export interface DatabaseOptions {
  /** Connections in the pool at most. */
  poolMax?: number;
  /** Seconds to wait for a connection before failing. */
  connectTimeoutSeconds?: number;
  /** PostgreSQL cancels a statement of these connections that runs longer (`statement_timeout`), milliseconds. */
  statementTimeoutMs?: number;
}

export function openDatabase(url: string, options: DatabaseOptions = {}): Sql {
  return postgres(url, {
    max: options.poolMax ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    onnotice: () => {},
    ...(options.statementTimeoutMs === undefined
      ? {}
      : { connection: { statement_timeout: options.statementTimeoutMs } }),
    // numeric and bigint stay strings (postgres.js default): money is never a float.
  });
}

/** The database name in a postgres:// URL. */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
}

/** The same server, another database (for CREATE/DROP DATABASE). */
export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(name)}`;
  return parsed.toString();
}

const duplicateDatabase = "42P04";
const uniqueViolation = "23505";

/** Creates the database named in `url` when missing; safe to run concurrently. */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const admin = openDatabase(withDatabase(url, "postgres"), { poolMax: 1 });
  try {
    const found = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (found.length > 0) return;
    try {
      await admin`CREATE DATABASE ${admin(name)}`;
    } catch (error) {
      // Another process created it between our look and our CREATE.
      const code = (error as { code?: string }).code;
      if (code !== duplicateDatabase && code !== uniqueViolation) throw error;
    }
  } finally {
    await admin.end();
  }
}

/** Drops the database named in `url` (tests clean up their own database). */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const admin = openDatabase(withDatabase(url, "postgres"), { poolMax: 1 });
  try {
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
  } finally {
    await admin.end();
  }
}
