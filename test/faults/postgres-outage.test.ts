// PostgreSQL crashed (`pg_ctl stop -m immediate`) for ~20 s while
// transactions stream in, on a PostgreSQL cluster of this test's own: the
// worker retries with a capped, jittered backoff and commits no offset while
// failing, says it is degraded, and catches up afterwards with nothing lost;
// the API keeps accepting (Kafka has the transactions) and its reads answer
// 503, not 500.
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { freePort } from "../../scripts/broker.ts";
import { committedOffsets } from "../../src/kafka/admin.ts";
import { parseLogLine } from "../../src/runtime/log-lines.ts";
import { type PostgresCluster, startPostgresCluster } from "../support/postgres-cluster.ts";
import { processEnv, startProcess, type TxlogProcess } from "../support/processes.ts";
import { eventually, kafkaConnection, testTopics } from "../support/run.ts";

const outageMs = 20_000;
const requestRows = 50;
const topics = testTopics("pg-outage");
let cluster: PostgresCluster;
let api: TxlogProcess;
let worker: TxlogProcess;
let apiUrl: string;
let databaseUrl: string;
let workerUrl: string;

beforeAll(async () => {
  cluster = await startPostgresCluster();
  databaseUrl = cluster.urlFor("txlog");
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  const workerPort = await freePort();
  workerUrl = `http://127.0.0.1:${workerPort}`;
  const env = processEnv(topics, databaseUrl, {
    PORT: String(port),
    WORKER_PORT: String(workerPort),
    RETRY_BACKOFF_MS_MAX: "2000",
    // Each retry is a debug line: the test reads their waits.
    LOG_LEVEL: "debug",
  });
  api = startProcess("src/api.ts", env);
  await eventually(
    async () => ((await fetch(`${apiUrl}/ready`).catch(() => undefined))?.ok ? true : undefined),
    60_000,
  );
  worker = startProcess("src/worker.ts", env);
  await eventually(
    async () => (/"state":"running"|worker: running/.test(worker.output.text) ? true : undefined),
    60_000,
  );
}, 120_000);

afterAll(async () => {
  for (const process_ of [api, worker]) process_?.child.kill("SIGKILL");
  await cluster?.remove();
}, 60_000);

function rows(offset: number) {
  return Array.from({ length: requestRows }, (_, i) => ({
    step: 1,
    type: "TRANSFER",
    amount: `${offset + i}.25`,
    nameOrig: `C${(offset + i) % 53}`,
    oldbalanceOrg: "0",
    newbalanceOrig: "0",
    nameDest: `C${(offset + i) % 31}`,
    oldbalanceDest: "0",
    newbalanceDest: "0",
  }));
}

/** Posts one batch; the ids of a 202, or undefined. */
async function postBatch(offset: number): Promise<string[] | undefined> {
  const response = await fetch(`${apiUrl}/transactions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(rows(offset)),
  });
  const answer = (await response.json()) as { transactionIds?: string[] };
  return response.status === 202 ? answer.transactionIds : undefined;
}

async function storedCount(ids: string[]): Promise<number> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM transactions WHERE transaction_id = ANY(${ids}::uuid[])`;
    return row?.n ?? 0;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

test("PostgreSQL down for 20 s mid-stream: writes retried, no offset committed meanwhile, reads 503, everything stored afterwards", async () => {
  const accepted: string[] = [];
  let offset = 0;
  const post = async () => {
    const ids = await postBatch(offset);
    offset += requestRows;
    expect(ids).toBeDefined();
    accepted.push(...(ids ?? []));
  };
  for (let i = 0; i < 10; i++) await post();
  await eventually(async () => ((await storedCount(accepted)) === accepted.length ? true : undefined), 60_000);

  await cluster.stop({ mode: "immediate" });
  const stoppedAtMs = Date.now();
  // Kafka still takes transactions: the API accepts them while the database is down.
  for (let i = 0; i < 10; i++) await post();
  const report = await fetch(`${apiUrl}/reports`);
  expect(report.status).toBe(503);
  expect(((await report.json()) as { error: string }).error).toBe("database_unavailable");
  // Once the worker has failed to write, no offset moves until the database is back.
  await eventually(async () => (/database write failed/.test(worker.output.text) ? true : undefined), 30_000);
  const connection = kafkaConnection();
  const committedEarly = await committedOffsets(connection, topics.groupId, topics.topic);
  await Bun.sleep(Math.max(0, outageMs - (Date.now() - stoppedAtMs)));
  const committedLate = await committedOffsets(connection, topics.groupId, topics.topic);
  expect(committedLate).toEqual(committedEarly);
  expect(worker.output.text).toMatch(/worker: degraded: postgres: database write failed/);
  const ready = await fetch(`${workerUrl}/ready`);
  expect(ready.status).toBe(503);
  expect(((await ready.json()) as { problems: { postgres?: string } }).problems.postgres).toContain(
    "database write failed",
  );

  await cluster.start();
  await eventually(
    async () => ((await storedCount(accepted)) === accepted.length ? true : undefined),
    90_000,
    "every 202 stored after the outage",
  );
  expect(worker.alive()).toBe(true);
  expect(api.alive()).toBe(true);
  // The retries waited longer each time, up to RETRY_BACKOFF_MS_MAX.
  const waits = [...worker.output.text.matchAll(/database write failed \(attempt \d+\), retrying in (\d+) ms/g)].map(
    (match) => Number(match[1]),
  );
  expect(waits.length).toBeGreaterThan(3);
  expect(Math.max(...waits)).toBeLessThanOrEqual(2000);
  expect(worker.output.text).toMatch(/worker: running after [\d.]+ s degraded: postgres: a batch was written/);
  expect((await fetch(`${workerUrl}/ready`)).status).toBe(200);
  const report2 = await fetch(`${apiUrl}/reports?limit=1`);
  expect(report2.status).toBe(200);
  // The outage is one episode in each log, not a line per failure: a start
  // with its cause and an end with the count (no summary within 60 s).
  const episodeLines = (output: string, episode: string) =>
    output
      .split("\n")
      .map(parseLogLine)
      .filter((entry) => entry?.episode === episode && entry.level !== 20);
  const writes = episodeLines(worker.output.text, "database write");
  expect(writes.map((entry) => String(entry?.msg).split(":")[0])).toEqual([
    "database write failing",
    expect.stringMatching(/^database write recovered after [\d.]+ s and \d+ failures$/),
  ]);
  expect(writes[1]?.failures).toBe(waits.length);
  await eventually(
    async () => (episodeLines(api.output.text, "database read").length === 2 ? true : undefined),
    5000,
    "the API's read episode ended",
  );
  expect(episodeLines(api.output.text, "database read").map((entry) => entry?.level)).toEqual([40, 30]);
}, 240_000);
