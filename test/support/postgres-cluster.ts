// A PostgreSQL server of a test's own, in a temp dir, for fault tests that
// stop it (or crash it with an immediate shutdown) and start it again without
// touching the machine's shared server.
//
// PostgreSQL refuses to run as root, so when this process is root the server
// and its tools run as the `postgres` user. A run that ends without remove()
// leaves nothing behind for long: an exit handler stops the server and deletes
// its dir; a watchdog process does the same when this process is killed by a
// signal (no exit handler runs then); and the next run sweeps what is left
// (say after a reboot) from dirs whose owning process is gone.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../../scripts/broker.ts";
import { withDatabase } from "../../src/postgres/connection.ts";
import { processAlive } from "./abandoned.ts";

export type StopMode = "immediate" | "fast";

export interface PostgresClusterOptions {
  /** Folder of initdb and pg_ctl; default $TXLOG_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin, else PATH. */
  binDir?: string;
  /** Longest wait for initdb, milliseconds. */
  initdbTimeoutMs?: number;
  /** Longest wait, on each start, until the server accepts connections (crash recovery included), milliseconds. */
  startTimeoutMs?: number;
  /** Longest wait for each stop, milliseconds. */
  stopTimeoutMs?: number;
  maxConnections?: number;
}

export interface PostgresCluster {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth, no password). */
  url: string;
  urlFor(database: string): string;
  /** The cluster's temp dir: data/, server.log and the Unix socket. */
  dir: string;
  dataDir: string;
  /** The server's own log, kept across restarts: read it when a start fails. */
  logFile: string;
  /** `pg_ctl stop -m <mode>` (default fast); immediate is a crash as far as the server knows. No-op when stopped. */
  stop(options?: { mode?: StopMode }): Promise<void>;
  /** Starts it again on the same port and data dir; resolves once it accepts connections. */
  start(): Promise<void>;
  isRunning(): Promise<boolean>;
  /** Stops it when running and deletes its dir. */
  remove(): Promise<void>;
}

/** Dirs are named after the process that owns them, so a sweep can tell abandoned ones. */
const dirPrefix = "txlog-pgcluster-p";
const dirPattern = /^txlog-pgcluster-p(\d+)-/;
const defaultInitdbTimeoutMs = 60_000;
const defaultStartTimeoutMs = 60_000;
const defaultStopTimeoutMs = 30_000;
/** Stops in cleanup paths: the data is being deleted anyway. */
const cleanupStopTimeoutMs = 10_000;
/** Quick commands: chown, pg_ctl status. */
const quickCommandTimeoutMs = 10_000;
/** Grace for the spawn's own timeout, so pg_ctl's -t reports a timeout first, with its message. */
const spawnGraceMs = 5_000;
/** Another process may take the port freePort() found before the server binds it. */
const portAttempts = 3;

interface Layout {
  dir: string;
  dataDir: string;
  logFile: string;
  pgCtl: string;
}

interface LiveCluster extends Layout {
  watchdog: Subprocess;
}

const live = new Set<LiveCluster>();
let exitHandlerInstalled = false;
let swept = false;

export async function startPostgresCluster(options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
  const binDir = options.binDir ?? defaultBinDir();
  if (!swept) {
    swept = true;
    await sweepAbandonedClusters(binDir);
  }
  const layout = layoutOf(await mkdtemp(join(tmpdir(), `${dirPrefix}${process.pid}-`)), binDir);
  const cluster: LiveCluster = { ...layout, watchdog: startWatchdog(layout) };
  track(cluster);
  try {
    await initCluster(layout, binDir, options);
    const port = await startOnFreePort(layout, options.startTimeoutMs ?? defaultStartTimeoutMs);
    return handle(cluster, port, options);
  } catch (error) {
    await removeCluster(cluster);
    throw error;
  }
}

function layoutOf(dir: string, binDir: string): Layout {
  return {
    dir,
    dataDir: join(dir, "data"),
    logFile: join(dir, "server.log"),
    pgCtl: binDir ? join(binDir, "pg_ctl") : "pg_ctl",
  };
}

function handle(cluster: LiveCluster, port: number, options: PostgresClusterOptions): PostgresCluster {
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const startTimeoutMs = options.startTimeoutMs ?? defaultStartTimeoutMs;
  const stopTimeoutMs = options.stopTimeoutMs ?? defaultStopTimeoutMs;
  return {
    port,
    url,
    urlFor: (database) => withDatabase(url, database),
    dir: cluster.dir,
    dataDir: cluster.dataDir,
    logFile: cluster.logFile,
    async stop({ mode = "fast" } = {}) {
      if (await serverRunning(cluster)) await stopServer(cluster, mode, stopTimeoutMs);
    },
    start: () => startServer(cluster, port, startTimeoutMs),
    isRunning: () => serverRunning(cluster),
    remove: () => removeCluster(cluster),
  };
}

/** initdb with trust auth, then the settings every start uses (the port is given per start). */
async function initCluster(layout: Layout, binDir: string, options: PostgresClusterOptions): Promise<void> {
  // mkdtemp made the dir 0700 for root; the server user must own it to create data/ and the socket.
  if (runningAsRoot()) await runOk(["chown", "postgres:", layout.dir], quickCommandTimeoutMs, layout.dir);
  const initdb = binDir ? join(binDir, "initdb") : "initdb";
  await runOk(
    asServerUser([
      initdb,
      "-D",
      layout.dataDir,
      "--auth=trust",
      "--username=postgres",
      "--encoding=UTF8",
      "--locale=C.UTF-8",
    ]),
    options.initdbTimeoutMs ?? defaultInitdbTimeoutMs,
    layout.dir,
  );
  // Durability settings (fsync, synchronous_commit, full_page_writes) stay at
  // their defaults: the tests are about what survives a crash.
  const settings = [
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${layout.dir}'`,
    `max_connections = ${options.maxConnections ?? 50}`,
    // Small, so several clusters fit next to the shared server on a small machine.
    "shared_buffers = 16MB",
  ];
  await appendFile(join(layout.dataDir, "postgresql.conf"), `\n# txlog test cluster\n${settings.join("\n")}\n`);
}

async function startOnFreePort(layout: Layout, startTimeoutMs: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await startServer(layout, port, startTimeoutMs);
      return port;
    } catch (error) {
      if (attempt >= portAttempts || !(error instanceof ServerStartError && error.portTaken)) throw error;
    }
  }
}

class ServerStartError extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean,
  ) {
    super(message);
  }
}

/** pg_ctl start -w: returns once the server reports it accepts connections (after any crash recovery). */
async function startServer(layout: Layout, port: number, startTimeoutMs: number): Promise<void> {
  const logOffset = await fileLength(layout.logFile);
  const command = asServerUser([
    layout.pgCtl,
    "start",
    "-D",
    layout.dataDir,
    // -l sends the server's output to the log; without it the server would hold our pipes open.
    "-l",
    layout.logFile,
    "-o",
    `-p ${port}`,
    "-w",
    "-t",
    String(Math.ceil(startTimeoutMs / 1000)),
  ]);
  const result = await run(command, startTimeoutMs + spawnGraceMs, layout.dir);
  if (result.exitCode === 0) return;
  const serverLog = await logSince(layout.logFile, logOffset);
  throw new ServerStartError(
    `${failure(command, result)}\nserver log (${layout.logFile}):\n${serverLog}`,
    serverLog.includes("Address already in use"),
  );
}

async function stopServer(layout: Layout, mode: StopMode, stopTimeoutMs: number): Promise<void> {
  await runOk(stopCommand(layout, mode, stopTimeoutMs), stopTimeoutMs + spawnGraceMs, layout.dir);
}

function stopCommand(layout: Layout, mode: StopMode, stopTimeoutMs: number): string[] {
  const seconds = String(Math.ceil(stopTimeoutMs / 1000));
  return asServerUser([layout.pgCtl, "stop", "-D", layout.dataDir, "-m", mode, "-w", "-t", seconds]);
}

/** pg_ctl status: exit 0 running, 3 not running; anything else (4: no data dir) is an error. */
async function serverRunning(layout: Layout): Promise<boolean> {
  const command = asServerUser([layout.pgCtl, "status", "-D", layout.dataDir]);
  const result = await run(command, quickCommandTimeoutMs, layout.dir);
  if (result.exitCode === 0) return true;
  if (result.exitCode === 3) return false;
  throw new Error(failure(command, result));
}

async function removeCluster(cluster: LiveCluster): Promise<void> {
  untrack(cluster);
  if (existsSync(join(cluster.dataDir, "postmaster.pid")) && (await serverRunning(cluster))) {
    await stopServer(cluster, "immediate", cleanupStopTimeoutMs);
  }
  await rm(cluster.dir, { recursive: true, force: true });
}

function track(cluster: LiveCluster): void {
  live.add(cluster);
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on("exit", cleanUpOnExit);
  }
}

function untrack(cluster: LiveCluster): void {
  live.delete(cluster);
  killWatchdog(cluster.watchdog);
}

/** Runs at process exit, where only synchronous work happens. */
function cleanUpOnExit(): void {
  for (const cluster of live) {
    killWatchdog(cluster.watchdog);
    Bun.spawnSync(stopCommand(cluster, "immediate", cleanupStopTimeoutMs), {
      cwd: cluster.dir,
      stdio: ["ignore", "ignore", "ignore"],
      timeout: cleanupStopTimeoutMs + spawnGraceMs,
    });
    rmSync(cluster.dir, { recursive: true, force: true });
  }
  live.clear();
}

/**
 * A detached shell that waits for this process to end, then stops the server
 * and deletes the dir: the cleanup for a SIGKILL, which no handler here sees.
 * Detached (its own session), so killing this process's group spares it; the
 * server is spared too, because pg_ctl starts it in a session of its own.
 */
function startWatchdog(layout: Layout): Subprocess {
  const script = 'tail --pid="$1" -f /dev/null; dir="$2"; shift 2; "$@" >/dev/null 2>&1; rm -rf "$dir"';
  const stop = stopCommand(layout, "immediate", cleanupStopTimeoutMs);
  const command = ["sh", "-c", script, "txlog-pgcluster-watchdog", String(process.pid), layout.dir, ...stop];
  const watchdog = Bun.spawn(command, { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  // It must not keep this process alive: it exists for when this process is gone.
  watchdog.unref();
  return watchdog;
}

function killWatchdog(watchdog: Subprocess): void {
  // Once it has exited its pid (and group id) may belong to someone else.
  if (watchdog.exitCode !== null || watchdog.signalCode !== null) return;
  try {
    // Its process group (the shell and its tail): detached made it the group leader.
    process.kill(-watchdog.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/**
 * Stops the servers and deletes the dirs of clusters whose owning process is
 * gone (a run killed before its cleanup whose watchdog died too, or a reboot),
 * and returns the dirs removed. Best effort: a dir another sweep is removing
 * at the same time is skipped.
 */
export async function sweepAbandonedClusters(binDir = defaultBinDir()): Promise<string[]> {
  const base = tmpdir();
  const abandoned = readdirSync(base).filter((name) => {
    const pid = dirPattern.exec(name)?.[1];
    return pid !== undefined && !processAlive(Number(pid));
  });
  const removed: string[] = [];
  for (const name of abandoned) {
    const layout = layoutOf(join(base, name), binDir);
    try {
      if (existsSync(join(layout.dataDir, "postmaster.pid"))) {
        await run(stopCommand(layout, "immediate", cleanupStopTimeoutMs), cleanupStopTimeoutMs + spawnGraceMs, base);
      }
      await rm(layout.dir, { recursive: true, force: true });
      removed.push(layout.dir);
    } catch {
      // Left for the next sweep.
    }
  }
  return removed;
}

function defaultBinDir(): string {
  if (process.env.TXLOG_PG_BIN) return process.env.TXLOG_PG_BIN;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return "";
  const versions = readdirSync(root)
    .filter((version) => existsSync(join(root, version, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : "";
}

function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/** PostgreSQL's programs refuse to run as root. */
function asServerUser(command: string[]): string[] {
  return runningAsRoot() ? ["runuser", "-u", "postgres", "--", ...command] : command;
}

interface RunResult {
  timeoutMs: number;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

async function run(command: string[], timeoutMs: number, cwd: string): Promise<RunResult> {
  // cwd: the server user may not be allowed into this process's working directory.
  const child = Bun.spawn(command, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  const signal = child.signalCode === null ? null : String(child.signalCode);
  return { timeoutMs, exitCode: child.exitCode, signal, stdout, stderr };
}

async function runOk(command: string[], timeoutMs: number, cwd: string): Promise<RunResult> {
  const result = await run(command, timeoutMs, cwd);
  if (result.exitCode !== 0) throw new Error(failure(command, result));
  return result;
}

function failure(command: string[], result: RunResult): string {
  const how = result.signal
    ? `killed by ${result.signal}; its limit was ${result.timeoutMs} ms`
    : `exit ${result.exitCode}`;
  return `${command.join(" ")} failed (${how}):\n${result.stderr}${result.stdout}`;
}

/** Bytes in the file now (0 when missing), to show only what a start adds to the log. */
async function fileLength(path: string): Promise<number> {
  const file = Bun.file(path);
  return (await file.exists()) ? file.size : 0;
}

async function logSince(path: string, offset: number): Promise<string> {
  const bytes = await readFile(path).catch(() => Buffer.alloc(0));
  return bytes.subarray(offset).toString("utf8");
}
