// How the API and the worker reach PostgreSQL. With its role's URL set
// (DATABASE_API_URL, DATABASE_WORKER_URL) a process connects with least
// privilege and only checks that the owner migrated the schema; unset, it
// connects as DATABASE_URL's user, the owner, creates and migrates the
// database itself, and says once that it runs with more rights than it needs.
import type { Config } from "../runtime/config.ts";
import { type DatabaseOptions, ensureDatabase, openDatabase, type Sql } from "./connection.ts";
import { checkMigrated, migrate } from "./migrate.ts";

export type ProcessRole = "api" | "worker";

const roleVariable = { api: "DATABASE_API_URL", worker: "DATABASE_WORKER_URL" } as const;
const roleName = { api: "API", worker: "worker" } as const;

/** The URL `role` connects with: its own, or DATABASE_URL's when unset. */
export function processDatabaseUrl(config: Config, role: ProcessRole): string {
  return (role === "api" ? config.databaseApiUrl : config.databaseWorkerUrl) || config.databaseUrl;
}

/** The line a process prints when it connects as the owner. */
export function ownerWarning(role: ProcessRole): string {
  return `${roleVariable[role]} is unset: connecting as DATABASE_URL's user, the schema's owner, with more rights than the ${roleName[role]} needs; run \`bun run db:roles\` and set ${roleVariable[role]} (README, Database roles)`;
}

/** Opens the process's pool, ready to use: migrated by it as the owner, or checked as its role. */
export async function openProcessDatabase(
  config: Config,
  role: ProcessRole,
  options: DatabaseOptions,
  warn: (line: string) => void,
): Promise<Sql> {
  const own = role === "api" ? config.databaseApiUrl : config.databaseWorkerUrl;
  if (own === "") {
    warn(ownerWarning(role));
    await ensureDatabase(config.databaseUrl);
  }
  const sql = openDatabase(own || config.databaseUrl, options);
  try {
    await (own === "" ? migrate(sql) : checkMigrated(sql));
  } catch (error) {
    await sql.end();
    throw error;
  }
  return sql;
}
