// GET /reports refuses what no page could ask for with 400, before PostgreSQL
// sees it. The app answers in-process (app.handle): no listener, no Kafka.
import { afterAll, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import { encodeCursor } from "../../src/api/reads.ts";
import { readyCacheMs } from "../../src/api/routes/health.ts";
import { openDatabase } from "../../src/postgres/connection.ts";
import { discardingBatcher, testConfig } from "../support/run.ts";

const config = testConfig();
const sql = openDatabase(config.databaseUrl, { poolMax: 1 });
afterAll(() => sql.end());

const app = createApp({
  config,
  sql,
  // Reports never produce.
  batcher: discardingBatcher(),
  shutdown: { requested: false },
  kafkaAnswers: async () => true,
});

async function get(path: string) {
  const response = await app.handle(new Request(`http://txlog${path}`));
  return { status: response.status, body: (await response.json()) as { error?: string; message?: string } };
}

const id = "0193a8e2-7c41-7b2e-9d0a-3f5c2e1b4a77";

test("a cursor as encodeCursor writes it is taken", async () => {
  const page = await get(
    `/reports?cursor=${encodeCursor({ acceptedAt: "2024-02-29T12:00:00.000Z", transactionId: id })}`,
  );
  expect(page.status).toBe(200);
});

test("a cursor holding an impossible date (2024-02-30) is refused with 400, not read as March 1st", async () => {
  for (const acceptedAt of ["2024-02-30T12:00:00.000Z", "2024-02-30", "2023-02-29T00:00:00.000Z"]) {
    const page = await get(`/reports?cursor=${encodeCursor({ acceptedAt, transactionId: id })}`);
    expect(page.status).toBe(400);
    expect(page.body.message).toBe("cursor: must be a nextCursor value from a previous page");
  }
});

test("a NUL byte (or any control character) in account is refused with 400 naming the filter, not a 500", async () => {
  for (const account of ["%00", "C1%00", "C%0A1", "C%201"]) {
    const page = await get(`/reports?account=${account}`);
    expect(page.status).toBe(400);
    expect(page.body.error).toBe("invalid_query");
    expect(page.body.message).toContain("account: must be 1 to 64 printable ASCII characters without spaces");
  }
  expect((await get("/reports?account=C1231006815")).status).toBe(200);
});

/** An app whose report reads run on their own pool, cancelled by PostgreSQL after `timeoutMs`. */
function appWithReadTimeout(timeoutMs: number) {
  const reads = openDatabase(config.databaseUrl, { poolMax: 1, statementTimeoutMs: timeoutMs });
  const timed = createApp({
    config: { ...config, readStatementTimeoutMs: timeoutMs },
    sql,
    reads,
    batcher: discardingBatcher(),
    shutdown: { requested: false },
    kafkaAnswers: async () => true,
  });
  return { timed, reads };
}

test("a report read that outlives READ_STATEMENT_TIMEOUT_MS is cancelled and answered 503 read_timeout, not 500", async () => {
  const { timed, reads } = appWithReadTimeout(200);
  const holder = openDatabase(config.databaseUrl, { poolMax: 1 });
  const locked = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  // Another session holds both tables: each read waits on the lock until statement_timeout cancels it.
  const holding = holder.begin(async (tx) => {
    await tx`LOCK TABLE transactions, transaction_summary IN ACCESS EXCLUSIVE MODE`;
    locked.resolve();
    await release.promise;
  });
  await locked.promise;
  try {
    for (const path of ["/reports/summary", "/reports?limit=5"]) {
      const started = performance.now();
      const response = await timed.handle(new Request(`http://txlog${path}`));
      expect(response.status, path).toBe(503);
      expect(response.headers.get("retry-after")).toBe("1");
      expect(await response.json()).toEqual({
        error: "read_timeout",
        message:
          "the read ran longer than READ_STATEMENT_TIMEOUT_MS (200 ms) and was cancelled; narrow it (filters, limit) or retry later",
      });
      expect(performance.now() - started).toBeLessThan(5000);
    }
  } finally {
    release.resolve();
    await holding;
    await holder.end();
  }
  // The same pool answers again once the lock is gone.
  expect((await timed.handle(new Request("http://txlog/reports/summary"))).status).toBe(200);
  await reads.end();
}, 30_000);

test("GET /health says the process is alive without asking a dependency; /ready shares one check per readyCacheMs", async () => {
  let checks = 0;
  const probed = createApp({
    config,
    sql,
    batcher: discardingBatcher(),
    shutdown: { requested: false },
    kafkaAnswers: async () => {
      checks++;
      return false;
    },
  });
  const health = await probed.handle(new Request("http://txlog/health"));
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: "alive" });
  expect(checks).toBe(0);
  const answers = await Promise.all(Array.from({ length: 50 }, () => probed.handle(new Request("http://txlog/ready"))));
  expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(503));
  expect(await (answers[0] as Response).json()).toMatchObject({
    kafka: "down",
    postgres: "up",
    message: "Kafka not answering",
  });
  expect(checks).toBe(1);
  await Bun.sleep(readyCacheMs + 50);
  await probed.handle(new Request("http://txlog/ready"));
  expect(checks).toBe(2);
});
