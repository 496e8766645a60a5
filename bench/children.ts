// The processes a benchmark run starts (API, worker, the bare HTTP ceiling),
// each started as `bun run <file>` like a deployment starts it, its output
// kept in a log file of the out folder and scanned line by line as it comes.
import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";
import { type Subprocess, spawn } from "bun";

export const repoRoot = join(import.meta.dir, "..");

export interface ChildOptions {
  /** Short name for messages and the log file (`<name>.log`). */
  name: string;
  /** Script to run, relative to the repository root. */
  file: string;
  env: Record<string, string>;
  logDir: string;
  /** Write a CPU profile into this folder on exit (bun --cpu-prof). */
  cpuProfileDir?: string;
  /** Called with each output line and the time it arrived (performance.now()). */
  onLine?: (line: string, atMs: number) => void;
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** performance.now() at spawn. */
  readonly spawnedAtMs: number;
  readonly process: Subprocess;
  /** True once the process exited. */
  readonly exited: boolean;
  /** Last lines of its output, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code once it exited. */
  stop(graceMs?: number): Promise<number | null>;
}

/** How long a child gets to finish after SIGTERM before SIGKILL, milliseconds. */
export const stopGraceMsDefault = 20_000;
/** Output lines kept in memory per child for error messages. */
const tailLinesMax = 200;

export function startChild(options: ChildOptions): Child {
  const logFile = join(options.logDir, `${options.name}.log`);
  const log: WriteStream = createWriteStream(logFile, { flags: "a" });
  const profile = options.cpuProfileDir
    ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`, "--cpu-prof-md", `--cpu-prof-name=${options.name}`]
    : [];
  const child = spawn([process.execPath, ...profile, "run", options.file], {
    cwd: repoRoot,
    env: options.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const spawnedAtMs = performance.now();
  const lines: string[] = [];
  let exited = false;
  const exitedPromise = child.exited.then((code) => {
    exited = true;
    return code;
  });

  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of stream) {
      const atMs = performance.now();
      log.write(chunk);
      partial += decoder.decode(chunk, { stream: true });
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        if (lines.length > tailLinesMax) lines.shift();
        options.onLine?.(line, atMs);
      }
    }
    if (partial !== "") {
      lines.push(partial);
      options.onLine?.(partial, performance.now());
    }
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]).catch(() => {});

  let stopping: Promise<number | null> | undefined;
  return {
    name: options.name,
    pid: child.pid,
    logFile,
    spawnedAtMs,
    process: child,
    get exited() {
      return exited;
    },
    tail(count = 20) {
      return lines.slice(-count).join("\n");
    },
    stop(graceMs = stopGraceMsDefault) {
      stopping ??= (async () => {
        if (!exited) child.kill("SIGTERM");
        const code = await Promise.race([exitedPromise, Bun.sleep(graceMs).then(() => "timeout" as const)]);
        if (code === "timeout") {
          child.kill("SIGKILL");
          await exitedPromise;
        }
        await pumped;
        await new Promise<void>((resolve) => log.end(resolve));
        return child.exitCode;
      })();
      return stopping;
    },
  };
}

/** Resolves when `ready()` is true; fails when the child exits first or `timeoutMs` passes. */
export async function waitUntilReady(
  child: Child,
  ready: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await ready()) return;
    if (child.exited) {
      throw new Error(
        `${child.name} exited (code ${child.process.exitCode}) before ${what}; last output:\n${child.tail()}`,
      );
    }
    if (performance.now() > deadline) {
      throw new Error(`${child.name}: ${what} not within ${timeoutMs} ms; last output:\n${child.tail()}`);
    }
    await Bun.sleep(50);
  }
}

/** True when GET `url` answers 2xx. */
export async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
