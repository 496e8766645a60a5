// Test runs name their databases after the process that made them
// (txlog_test_<id>_p<pid>[_<name>]) and drop them when they end. A run killed
// before its cleanup leaves them behind; the next run on the same machine
// drops those whose process is gone.
import { dropDatabase, openDatabase, withDatabase } from "../../src/postgres/connection.ts";

const testDatabasePattern = /^txlog_test_[0-9a-f]{8}_p(\d+)(?:_|$)/;

/** The database name of a test run: its random id and this process's pid. */
export function runDatabaseName(runId: string, pid = process.pid): string {
  return `txlog_test_${runId}_p${pid}`;
}

/** Whether a process with this pid exists (on this machine). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as { code?: string }).code === "EPERM";
  }
}

/**
 * Drops the test databases whose run's process no longer exists, and returns
 * their names. Only on a server on this machine: a pid says nothing about a
 * run elsewhere.
 */
export async function dropAbandonedTestDatabases(baseUrl: string): Promise<string[]> {
  const host = new URL(baseUrl).hostname;
  if (!["127.0.0.1", "localhost", "::1", "[::1]", ""].includes(host)) return [];
  const admin = openDatabase(withDatabase(baseUrl, "postgres"), { poolMax: 1 });
  let names: string[];
  try {
    const rows = await admin<
      { datname: string }[]
    >`SELECT datname FROM pg_database WHERE datname LIKE 'txlog\\_test\\_%'`;
    names = rows.map((row) => row.datname);
  } finally {
    await admin.end();
  }
  const abandoned = names.filter((name) => {
    const pid = testDatabasePattern.exec(name)?.[1];
    return pid !== undefined && !processAlive(Number(pid));
  });
  for (const name of abandoned) await dropDatabase(withDatabase(baseUrl, name));
  return abandoned;
}

/** Test roles (test/support/roles.ts) carry their run's pid the same way: txlog_t_<id>_p<pid>_… */
const testRolePattern = /^txlog_t_[0-9a-f]{8}_p(\d+)_/;

/** The prefix of a test role's name: this run's id and pid. */
export function runRolePrefix(runId: string, pid = process.pid): string {
  return `txlog_t_${runId}_p${pid}_`;
}

/**
 * Drops the test roles whose run's process no longer exists. A role that
 * still has rights in a database that survived is left (DROP ROLE refuses).
 */
export async function dropAbandonedTestRoles(baseUrl: string): Promise<string[]> {
  const host = new URL(baseUrl).hostname;
  if (!["127.0.0.1", "localhost", "::1", "[::1]", ""].includes(host)) return [];
  const admin = openDatabase(withDatabase(baseUrl, "postgres"), { poolMax: 1 });
  const dropped: string[] = [];
  try {
    const rows = await admin<{ rolname: string }[]>`SELECT rolname FROM pg_roles WHERE rolname LIKE 'txlog\\_t\\_%'`;
    for (const { rolname } of rows) {
      const pid = testRolePattern.exec(rolname)?.[1];
      if (pid === undefined || processAlive(Number(pid))) continue;
      await admin`DROP ROLE IF EXISTS ${admin(rolname)}`.then(
        () => dropped.push(rolname),
        () => {},
      );
    }
  } finally {
    await admin.end();
  }
  return dropped;
}
