// txlog's processes as a deployment runs them (`bun run src/api.ts`,
// `bun run src/worker.ts`), with their output kept for assertions, and the
// Kafka broker's own Java process, found by its data folder, for tests that
// kill it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Subprocess, spawn } from "bun";

export const repoRoot = join(import.meta.dir, "..", "..");

/** A script of the repository run to its end with this Bun: its exit code and what it printed. */
export async function runScript(
  argv: string[],
  env: Record<string, string> = process.env as Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn([process.execPath, ...argv], { cwd: repoRoot, env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, stdout, stderr };
}

export interface TxlogProcess {
  child: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output: { text: string };
  /** True while it runs. */
  alive(): boolean;
}

export function startProcess(file: string, env: Record<string, string>): TxlogProcess {
  const child = spawn(["bun", "run", file], { cwd: repoRoot, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const output = { text: "" };
  for (const stream of [child.stdout, child.stderr]) {
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) output.text += decoder.decode(chunk, { stream: true });
    })();
  }
  return { child, output, alive: () => child.exitCode === null && child.signalCode === null };
}

/** Pids of the Java processes running a Kafka broker whose data lives in `dataDir`. */
export function brokerPids(dataDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes("kafka.Kafka") && cmdline.includes(join(dataDir, "server.properties"))) {
        pids.push(Number(entry));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** kill -9 the broker of `dataDir`: no controlled shutdown, as a crash or a power cut. */
export function killBroker(dataDir: string): number[] {
  const pids = brokerPids(dataDir);
  if (pids.length === 0) throw new Error(`no Kafka broker runs from ${dataDir}`);
  for (const pid of pids) process.kill(pid, "SIGKILL");
  return pids;
}

/** The environment of a txlog process of a test: its own topics, group and database, and `extra` settings. */
export function processEnv(
  topics: { topic: string; dlqTopic: string; groupId: string },
  databaseUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    KAFKA_TOPIC: topics.topic,
    KAFKA_DLQ_TOPIC: topics.dlqTopic,
    KAFKA_GROUP_ID: topics.groupId,
    DATABASE_URL: databaseUrl,
    WORKER_BATCH_LINGER_MS: "50",
    ...extra,
  };
}

/** A valid POST /transaction body. */
export const paymentBody = {
  step: 1,
  type: "PAYMENT",
  amount: "10.00",
  nameOrig: "C1",
  oldbalanceOrg: "10.00",
  newbalanceOrig: "0.00",
  nameDest: "M1",
  oldbalanceDest: "0.00",
  newbalanceDest: "0.00",
};
