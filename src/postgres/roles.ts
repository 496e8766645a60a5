// Least privilege in PostgreSQL (README, Database roles): the owner
// (DATABASE_URL's user) runs migrations; the API reads as a role that may
// only SELECT; the worker writes as one that may only INSERT and SELECT.
// `bun run db:roles` creates the two roles when missing (roles are cluster
// wide) and grants them their rights in this database (grants are per
// database); running it again changes nothing.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type { Config } from "../runtime/config.ts";
import { errorText } from "../runtime/error-text.ts";
import type { Sql } from "./connection.ts";
import { databaseName } from "./connection.ts";

export interface RoleSpec {
  name: string;
  /** From the role's URL; absent when the server trusts the role without one. */
  password?: string;
}

export interface Roles {
  api: RoleSpec;
  worker: RoleSpec;
}

/** Role names `npm start` and `bun run db:roles` use when DATABASE_API_URL / DATABASE_WORKER_URL are unset. */
export const defaultRoleNames = { api: "txlog_api", worker: "txlog_worker" } as const;

export class RolesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RolesError";
  }
}

/** The role a postgres:// URL logs in as. */
export function roleOf(url: string): RoleSpec {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.username);
  const password = parsed.password === "" ? undefined : decodeURIComponent(parsed.password);
  return password === undefined ? { name } : { name, password };
}

/** `url` logging in as `role` (no password: trust or a password file). */
export function urlAs(url: string, role: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(role);
  parsed.password = "";
  return parsed.toString();
}

/** The API's and the worker's URLs: as configured, else DATABASE_URL as the default roles. */
export function roleUrls(config: Pick<Config, "databaseUrl" | "databaseApiUrl" | "databaseWorkerUrl">) {
  return {
    api: config.databaseApiUrl || urlAs(config.databaseUrl, defaultRoleNames.api),
    worker: config.databaseWorkerUrl || urlAs(config.databaseUrl, defaultRoleNames.worker),
  };
}

/**
 * A SCRAM-SHA-256 verifier of `password` (RFC 5802, as PostgreSQL stores
 * it): the server gets the verifier, never the password, so no statement
 * log can show it.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** May the connecting user create roles? */
async function mayCreateRoles(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ may: boolean }[]>`
    SELECT rolsuper OR rolcreaterole AS may FROM pg_roles WHERE rolname = current_user`;
  return row?.may === true;
}

const duplicateObject = "42710";

/** CREATE ROLE when missing (another db:roles may race us), then its password when one is given. */
async function ensureRole(sql: Sql, role: RoleSpec, canCreate: boolean): Promise<boolean> {
  const [found] = await sql`SELECT 1 FROM pg_roles WHERE rolname = ${role.name}`;
  let created = false;
  if (found === undefined) {
    if (!canCreate) {
      throw new RolesError(
        `role ${JSON.stringify(role.name)} does not exist and the connecting user may not create roles: a DBA runs the SQL in README.md (Database roles), then run \`bun run db:roles\` again`,
      );
    }
    try {
      await sql`CREATE ROLE ${sql(role.name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION`;
      created = true;
    } catch (error) {
      if ((error as { code?: string }).code !== duplicateObject) throw error;
    }
  }
  if (role.password !== undefined && canCreate) {
    const [statement] = await sql<{ text: string }[]>`
      SELECT format('ALTER ROLE %I PASSWORD %L', ${role.name}::text, ${scramVerifier(role.password)}::text) AS text`;
    await sql.unsafe((statement as { text: string }).text);
  }
  return created;
}

/** The rights of each role in the connected database, from a clean slate. */
async function grant(sql: Sql, roles: Roles): Promise<void> {
  const [row] = await sql<{ name: string }[]>`SELECT current_database() AS name`;
  const database = sql(row?.name as string);
  const api = sql(roles.api.name);
  const worker = sql(roles.worker.name);
  await sql.begin(async (tx) => {
    await tx`GRANT CONNECT ON DATABASE ${database} TO ${api}`;
    // TEMPORARY: the worker's staging table (src/pipeline/copy-writer.ts).
    await tx`GRANT CONNECT, TEMPORARY ON DATABASE ${database} TO ${worker}`;
    // Nobody but the owner creates objects in the schema (PostgreSQL 15's default; older ones granted it to all).
    await tx`REVOKE CREATE ON SCHEMA public FROM PUBLIC`;
    await tx`GRANT USAGE ON SCHEMA public TO ${api}, ${worker}`;
    await tx`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${api}, ${worker}`;
    await tx`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${api}, ${worker}`;
    // The tables the worker appends to; it may only read the others.
    await tx`GRANT INSERT ON transactions, rejections TO ${worker}`;
    // Tables later migrations create are readable too, and nothing more.
    await tx`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${api}, ${worker}`;
  });
}

/** Checks the roles are two distinct roles, neither of them the connecting owner. */
async function checkRoles(sql: Sql, roles: Roles): Promise<void> {
  const [row] = await sql<{ owner: string }[]>`SELECT current_user AS owner`;
  const owner = row?.owner as string;
  for (const [which, role] of Object.entries(roles) as [string, RoleSpec][]) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role.name)) {
      throw new RolesError(`the ${which} role ${JSON.stringify(role.name)}: must be 1 to 63 of a-z, 0-9, '_'`);
    }
    if (role.name === owner) {
      throw new RolesError(
        `the ${which} role may not be the owner ${JSON.stringify(owner)}, who connects as DATABASE_URL`,
      );
    }
  }
  if (roles.api.name === roles.worker.name) throw new RolesError("the API and the worker need two different roles");
}

/** Creates the roles when missing and grants them their rights; returns the roles it created. */
export async function ensureRoles(sql: Sql, roles: Roles): Promise<string[]> {
  await checkRoles(sql, roles);
  const canCreate = await mayCreateRoles(sql);
  const created: string[] = [];
  for (const role of [roles.api, roles.worker]) {
    if (await ensureRole(sql, role, canCreate)) created.push(role.name);
  }
  await grant(sql, roles);
  return created;
}

/** The roles as DATABASE_API_URL and DATABASE_WORKER_URL name them (or the defaults). */
export function configuredRoles(config: Pick<Config, "databaseUrl" | "databaseApiUrl" | "databaseWorkerUrl">): Roles {
  const urls = roleUrls(config);
  return { api: roleOf(urls.api), worker: roleOf(urls.worker) };
}

if (import.meta.main) {
  const { loadConfigOrExit } = await import("../runtime/config.ts");
  const { ensureDatabase, openDatabase } = await import("./connection.ts");
  const { migrate } = await import("./migrate.ts");
  const config = loadConfigOrExit();
  await ensureDatabase(config.databaseUrl);
  const sql = openDatabase(config.databaseUrl, { poolMax: 1 });
  try {
    await migrate(sql);
    const roles = configuredRoles(config);
    const created = await ensureRoles(sql, roles);
    console.log(
      `db:roles: ${created.length ? `created ${created.join(", ")}; ` : ""}${roles.api.name} may SELECT, ${roles.worker.name} may INSERT and SELECT in ${databaseName(config.databaseUrl)}`,
    );
  } catch (error) {
    console.error(`db:roles: ${errorText(error)}`);
    process.exitCode = 1;
  } finally {
    await sql.end();
  }
}
