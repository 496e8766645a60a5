// `npm start`: the whole system in the foreground. Finds or starts a Kafka
// broker, prepares the database, seeds 100 rows, starts the API and a worker
// as their own processes (as a deployment runs them), replays a short demo
// through the API, prints where to look, and stops everything on Ctrl-C.
import { join } from "node:path";
import { type Subprocess, spawn } from "bun";
import { ensureDatabase, openDatabase } from "../src/postgres/connection.ts";
import { migrate } from "../src/postgres/migrate.ts";
import { configuredRoles, ensureRoles, roleOf, roleUrls } from "../src/postgres/roles.ts";
import { loadConfigOrExit } from "../src/runtime/config.ts";
import { errorText } from "../src/runtime/error-text.ts";
import { seed } from "../src/seed.ts";
import { readPaySimCsv } from "../src/transaction/paysim-csv.ts";
import { ensureBroker } from "./broker.ts";

const root = join(import.meta.dir, "..");
const sampleFile = join(root, "data", "paysim-sample.csv");
/** Demo rows replayed through the API; they follow the 100 seeded rows in the sample. */
const demoRows = 1000;
const demoConcurrency = 16;

const config = loadConfigOrExit();
const broker = await ensureBroker({
  broker: config.kafkaBrokers[0] as string,
  dataDir: join(root, ".txlog", "kafka"),
  partitions: config.topicPartitions,
});
console.log(
  broker.started
    ? `Kafka broker started at ${broker.brokers.join(",")} (log: ${broker.logFile})`
    : `using the Kafka broker at ${broker.brokers.join(",")}`,
);

await ensureDatabase(config.databaseUrl);
const sql = openDatabase(config.databaseUrl, { poolMax: 2 });
await migrate(sql);
const roleEnv = await prepareRoles();
const seeded = await seed(sql, sampleFile);
console.log(`seed: ${seeded.inserted} rows written, ${seeded.alreadyPresent} already present`);

/**
 * The API and the worker run as their least-privilege roles, made here with
 * `bun run db:roles`'s code when the connecting user may (the default local
 * setup: the superuser postgres with trust auth). When it may not, npm start
 * says why and runs them as the owner: the append-only guard still holds,
 * enforced in the database for every role.
 */
async function prepareRoles(): Promise<Record<string, string>> {
  const explicit = config.databaseApiUrl !== "" || config.databaseWorkerUrl !== "";
  if (!explicit && roleOf(config.databaseUrl).password !== undefined) {
    console.warn(
      "roles: DATABASE_URL carries a password and npm start does not invent passwords for the roles; the API and the worker run as the owner. Set DATABASE_API_URL and DATABASE_WORKER_URL (README, Database roles) to use them",
    );
    return {};
  }
  const urls = roleUrls(config);
  try {
    const roles = configuredRoles(config);
    const created = await ensureRoles(sql, roles);
    console.log(
      `roles: the API reads as ${roles.api.name}, the worker writes as ${roles.worker.name}${created.length ? ` (created ${created.join(", ")})` : ""}`,
    );
  } catch (error) {
    if (explicit) {
      console.warn(
        `roles: could not set up the roles (${errorText(error)}); using DATABASE_API_URL / DATABASE_WORKER_URL as given`,
      );
    } else {
      console.warn(`roles: could not set up the roles (${errorText(error)}); the API and the worker run as the owner`);
      return {};
    }
  }
  return { DATABASE_API_URL: urls.api, DATABASE_WORKER_URL: urls.worker };
}

const children: { name: string; process: Subprocess }[] = [];
let stopping = false;

function start(name: string, file: string): void {
  const child = spawn(["bun", "run", file], {
    cwd: root,
    // Their stderr is a pipe here: ask for pretty lines when a person watches.
    env: {
      ...process.env,
      ...roleEnv,
      KAFKA_BROKERS: broker.brokers.join(","),
      LOG_FORMAT: process.env.LOG_FORMAT || (process.stdout.isTTY ? "pretty" : "json"),
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  children.push({ name, process: child });
  for (const stream of [child.stdout, child.stderr]) void prefixLines(name, stream);
  void child.exited.then((code) => {
    if (stopping) return;
    console.error(`${name} exited with code ${code}; stopping everything`);
    void stop(1);
  });
}

async function prefixLines(name: string, stream: ReadableStream<Uint8Array>): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) console.log(`[${name}] ${line}`);
  }
  if (pending) console.log(`[${name}] ${pending}`);
}

async function stop(code: number): Promise<never> {
  stopping = true;
  for (const child of children) child.process.kill("SIGTERM");
  await Promise.all(children.map((child) => child.process.exited));
  await sql.end().catch(() => {});
  await broker.stop();
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

start("api", "src/api.ts");
start("worker", "src/worker.ts");

const base = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${config.port}`;
const healthDeadline = Date.now() + 60_000;
for (;;) {
  // /ready: Kafka and PostgreSQL answer (/health only says the process is alive).
  const healthy = await fetch(`${base}/ready`).then(
    (response) => response.ok,
    () => false,
  );
  if (healthy) break;
  if (Date.now() > healthDeadline) {
    console.error(`the API did not become ready at ${base}/ready within 60 s`);
    await stop(1);
  }
  await Bun.sleep(250);
}

// The demo: sample rows after the seeded ones, each POSTed with an
// Idempotency-Key of its line, so starting again adds no second copy. It
// holds no API key: with keys configured it is skipped.
const keysOn = config.apiKeys.length > 0 || config.apiKeysFile !== "";
if (keysOn) console.log("demo: skipped, API keys are on (TXLOG_API_KEYS); POST with one of your keys");
const demo: { key: string; body: unknown }[] = [];
for await (const record of readPaySimCsv(sampleFile, { rowsMax: keysOn ? 0 : 100 + demoRows })) {
  if (record.line <= 101 || !record.checked.ok) continue;
  demo.push({ key: `demo:${record.line}`, body: record.checked.value });
}
const demoStarted = performance.now();
const ids: string[] = [];
let refused = 0;
let next = 0;
await Promise.all(
  Array.from({ length: demoConcurrency }, async () => {
    while (next < demo.length) {
      const item = demo[next++] as { key: string; body: unknown };
      const response = await fetch(`${base}/transaction`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": item.key },
        body: JSON.stringify(item.body),
      });
      if (response.status === 202) ids.push(((await response.json()) as { transactionId: string }).transactionId);
      else refused++;
    }
  }),
);
const acceptedMs = performance.now() - demoStarted;
console.log(`demo: ${ids.length} transactions accepted (202) in ${acceptedMs.toFixed(0)} ms, ${refused} refused`);
const storedDeadline = Date.now() + 60_000;
for (;;) {
  const [row] = await sql<{ stored: number }[]>`
    SELECT count(*)::int AS stored FROM transactions WHERE transaction_id = ANY(${ids}::uuid[])`;
  if ((row?.stored ?? 0) === ids.length) {
    console.log(
      `demo: all ${ids.length} stored as Completed ${(performance.now() - demoStarted).toFixed(0)} ms after the first POST`,
    );
    break;
  }
  if (Date.now() > storedDeadline) {
    console.error(`demo: only ${row?.stored ?? 0} of ${ids.length} stored after 60 s; is the worker running?`);
    break;
  }
  await Bun.sleep(200);
}

console.log(`
txlog is up.
  dashboard:   ${base}/
  Swagger UI:  ${base}/swagger
  reports:     ${base}/reports
  summary:     ${base}/reports/summary
  ready:       ${base}/ready
Ctrl-C stops the API${broker.started ? ", the worker and the Kafka broker" : " and the worker"}.`);
