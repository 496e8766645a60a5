// Least-privilege roles of a test's own: roles are cluster wide and many
// test runs share the server, so each gets unique names (with the run's pid,
// for test/support/abandoned.ts), and drops them.
import { randomBytes } from "node:crypto";
import { openDatabase, type Sql, withDatabase } from "../../src/postgres/connection.ts";
import { ensureRoles, type Roles, urlAs } from "../../src/postgres/roles.ts";
import { runRolePrefix } from "./abandoned.ts";

export interface TestRoles {
  roles: Roles;
  /** DATABASE_API_URL and DATABASE_WORKER_URL for `url`'s database. */
  env: { DATABASE_API_URL: string; DATABASE_WORKER_URL: string };
  /** Drops the roles; call after the databases they have rights in are dropped. */
  drop(): Promise<void>;
}

/** Creates an API and a worker role with rights in the database `owner` is connected to. */
export async function createTestRoles(owner: Sql, url: string): Promise<TestRoles> {
  const prefix = `${runRolePrefix(process.env.TXLOG_TEST_RUN ?? "00000000")}${randomBytes(3).toString("hex")}`;
  const roles: Roles = { api: { name: `${prefix}_api` }, worker: { name: `${prefix}_worker` } };
  await ensureRoles(owner, roles);
  return {
    roles,
    env: { DATABASE_API_URL: urlAs(url, roles.api.name), DATABASE_WORKER_URL: urlAs(url, roles.worker.name) },
    async drop() {
      const admin = openDatabase(withDatabase(url, "postgres"), { poolMax: 1 });
      try {
        for (const role of [roles.api, roles.worker]) await admin`DROP ROLE IF EXISTS ${admin(role.name)}`;
      } finally {
        await admin.end();
      }
    },
  };
}
