import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { type PostgresCluster, startPostgresCluster, sweepAbandonedClusters } from "./postgres-cluster.ts";

/** Creating a cluster (initdb and a start) takes about 2.5 s here; generous for a busy 2-core machine. */
const clusterTestTimeoutMs = 60_000;
/** The watchdog notices its owner is gone within about a second (tail --pid polls). */
const orphanCleanupTimeoutMs = 15_000;

const clusters: PostgresCluster[] = [];
afterAll(async () => {
  for (const cluster of clusters) await cluster.remove();
});

function connect(url: string) {
  return postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
}

test(
  "committed rows survive an immediate stop; the server refuses connections while stopped; remove deletes the dir",
  async () => {
    const cluster = await startPostgresCluster();
    clusters.push(cluster);
    expect(cluster.url).toBe(`postgres://postgres@127.0.0.1:${cluster.port}/postgres`);
    const sql = connect(cluster.url);
    try {
      await sql`CREATE TABLE ledger (id int PRIMARY KEY, note text NOT NULL)`;
      await sql`INSERT INTO ledger VALUES (1, 'committed before the crash')`;

      await cluster.stop({ mode: "immediate" });
      expect(await cluster.isRunning()).toBe(false);
      await expect(sql`SELECT 1`).rejects.toMatchObject({ code: "ECONNREFUSED" });

      await cluster.start();
      expect(await cluster.isRunning()).toBe(true);
      // Queried at once: this fails if start() returned before crash recovery
      // ended and the server accepted connections.
      expect([...(await sql`SELECT id, note FROM ledger`)]).toEqual([{ id: 1, note: "committed before the crash" }]);
      // The server saw a crash, not a clean shutdown.
      expect(await Bun.file(cluster.logFile).text()).toContain("automatic recovery in progress");
    } finally {
      await sql.end({ timeout: 5 });
    }

    await cluster.remove();
    expect(await cluster.isRunning().catch(() => false)).toBe(false);
    expect(existsSync(cluster.dataDir)).toBe(false);
    expect(existsSync(cluster.dir)).toBe(false);
  },
  clusterTestTimeoutMs,
);

test(
  "a fast stop and a start keep the port, and urlFor names another database",
  async () => {
    const cluster = await startPostgresCluster();
    clusters.push(cluster);
    const admin = connect(cluster.url);
    try {
      await admin`CREATE DATABASE ledger_copy`;
    } finally {
      await admin.end({ timeout: 5 });
    }
    await cluster.stop({ mode: "fast" });
    await cluster.stop({ mode: "fast" }); // a second stop is a no-op
    await cluster.start();
    const sql = connect(cluster.urlFor("ledger_copy"));
    try {
      expect([...(await sql`SELECT current_database() AS name, current_setting('port') AS port`)]).toEqual([
        { name: "ledger_copy", port: String(cluster.port) },
      ]);
    } finally {
      await sql.end({ timeout: 5 });
    }
    await cluster.remove();
  },
  clusterTestTimeoutMs,
);

/**
 * Starts a cluster in a child Bun process that then ends without remove(),
 * as `ending` says, and returns the dir and port it printed.
 */
async function clusterOfEndedChild(ending: "exit" | "SIGKILL"): Promise<{ dir: string; port: number }> {
  const modulePath = JSON.stringify(join(import.meta.dir, "postgres-cluster.ts"));
  const script = [
    `import { startPostgresCluster } from ${modulePath};`,
    "const cluster = await startPostgresCluster();",
    "console.log(JSON.stringify({ dir: cluster.dir, port: cluster.port }));",
    ending === "exit" ? "process.exit(0);" : "await Bun.sleep(600_000);",
  ].join("\n");
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const line = await firstLine(child.stdout);
  if (ending === "SIGKILL") child.kill("SIGKILL");
  await child.exited;
  if (!line) throw new Error(`the child printed no cluster:\n${await new Response(child.stderr).text()}`);
  return JSON.parse(line);
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    const end = text.indexOf("\n");
    if (end >= 0) return text.slice(0, end);
  }
  return text;
}

async function refusesConnections(port: number): Promise<boolean> {
  const sql = connect(`postgres://postgres@127.0.0.1:${port}/postgres`);
  try {
    await sql`SELECT 1`;
    return false;
  } catch (error) {
    return (error as { code?: string }).code === "ECONNREFUSED";
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function gone(dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(dir)) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(100);
  }
  return true;
}

for (const ending of ["exit", "SIGKILL"] as const) {
  test(
    `a run that ends by ${ending} without remove() leaves no server and no dir`,
    async () => {
      const { dir, port } = await clusterOfEndedChild(ending);
      try {
        expect(await gone(dir, orphanCleanupTimeoutMs)).toBe(true);
        expect(await refusesConnections(port)).toBe(true);
      } finally {
        // If the cleanup failed, the child is dead: its dir is abandoned.
        await sweepAbandonedClusters();
      }
    },
    clusterTestTimeoutMs,
  );
}

test("the sweep removes dirs of dead owners and keeps those of live ones", async () => {
  const exited = Bun.spawn(["true"]);
  await exited.exited;
  const deadDir = join(tmpdir(), `txlog-pgcluster-p${exited.pid}-sweeptest`);
  const liveDir = join(tmpdir(), `txlog-pgcluster-p${process.pid}-sweeptest`);
  for (const dir of [deadDir, liveDir]) mkdirSync(join(dir, "data"), { recursive: true });
  try {
    const removed = await sweepAbandonedClusters();
    expect(removed).toContain(deadDir);
    expect(removed).not.toContain(liveDir);
    expect(existsSync(deadDir)).toBe(false);
    expect(existsSync(liveDir)).toBe(true);
  } finally {
    await rm(liveDir, { recursive: true, force: true });
    await rm(deadDir, { recursive: true, force: true });
  }
});
