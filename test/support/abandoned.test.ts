import { expect, test } from "bun:test";
import { ensureDatabase, openDatabase, withDatabase } from "../../src/postgres/connection.ts";
import { dropAbandonedTestDatabases, dropAbandonedTestRoles, runDatabaseName, runRolePrefix } from "./abandoned.ts";
import { testConfig } from "./run.ts";

async function databaseExists(baseUrl: string, name: string): Promise<boolean> {
  const admin = openDatabase(withDatabase(baseUrl, "postgres"), { poolMax: 1 });
  try {
    return (await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`).length > 0;
  } finally {
    await admin.end();
  }
}

test("a killed run's databases are dropped by the next run; a live run's are kept", async () => {
  const baseUrl = testConfig().databaseUrl;
  // A pid that surely belongs to no process: one that has just exited.
  const gone = Bun.spawn(["true"]);
  await gone.exited;
  const dead = runDatabaseName("0badc0de", gone.pid);
  const deadChild = `${dead}_sink`;
  const live = runDatabaseName("0badc0de", process.pid);
  for (const name of [dead, deadChild, live]) await ensureDatabase(withDatabase(baseUrl, name));
  try {
    const dropped = await dropAbandonedTestDatabases(baseUrl);
    expect(dropped).toContain(dead);
    expect(dropped).toContain(deadChild);
    expect(dropped).not.toContain(live);
    expect(await databaseExists(baseUrl, dead)).toBe(false);
    expect(await databaseExists(baseUrl, deadChild)).toBe(false);
    expect(await databaseExists(baseUrl, live)).toBe(true);
    // This run's own database is named after this live process: kept.
    expect(await databaseExists(baseUrl, new URL(baseUrl).pathname.slice(1))).toBe(true);
  } finally {
    const admin = openDatabase(withDatabase(baseUrl, "postgres"), { poolMax: 1 });
    await admin`DROP DATABASE IF EXISTS ${admin(live)} WITH (FORCE)`;
    await admin.end();
  }
});

test("a killed run's roles are dropped by the next run; a live run's are kept", async () => {
  const baseUrl = testConfig().databaseUrl;
  const gone = Bun.spawn(["true"]);
  await gone.exited;
  const dead = `${runRolePrefix("0badc0de", gone.pid)}abc_api`;
  const live = `${runRolePrefix("0badc0de", process.pid)}abc_api`;
  const admin = openDatabase(withDatabase(baseUrl, "postgres"), { poolMax: 1 });
  try {
    for (const name of [dead, live]) await admin`CREATE ROLE ${admin(name)}`;
    const dropped = await dropAbandonedTestRoles(baseUrl);
    expect(dropped).toContain(dead);
    expect(dropped).not.toContain(live);
    const left = await admin<{ rolname: string }[]>`SELECT rolname FROM pg_roles WHERE rolname IN (${dead}, ${live})`;
    expect(left.map((row) => row.rolname)).toEqual([live]);
  } finally {
    for (const name of [dead, live]) await admin`DROP ROLE IF EXISTS ${admin(name)}`;
    await admin.end();
  }
});
