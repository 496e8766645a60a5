// GET /dashboard/data answers what it can: with Kafka or PostgreSQL down, the
// sections that need it carry the error and the others their data, within
// the dashboard's own time bounds. In-process (app.handle), against this
// run's PostgreSQL and Kafka, and addresses where nothing listens.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freePort } from "../../../scripts/broker.ts";
import { createApp, createDashboard } from "../../../src/api/app.ts";
import {
  bounded,
  type DashboardData,
  dashboardCacheMs,
  dashboardQueryTimeoutMs,
  summaryRefreshMs,
} from "../../../src/api/dashboard/data.ts";
import { lagTimeoutMs } from "../../../src/api/dashboard/lag.ts";
import { ProduceBatcher } from "../../../src/api/produce-batcher.ts";
import { createProducer, produce } from "../../../src/kafka/client.ts";
import { ensureTopics, txlogTopics } from "../../../src/kafka/topics.ts";
import { openDatabase } from "../../../src/postgres/connection.ts";
import type { Config } from "../../../src/runtime/config.ts";
import { encodeMessage } from "../../../src/transaction/message.ts";
import { paymentBody } from "../../support/processes.ts";
import {
  freshDatabase,
  kafkaConnection,
  sampleTransaction,
  type TestDatabase,
  testConfig,
  testTopics,
} from "../../support/run.ts";
import { writeBatch } from "../../support/writes.ts";

const topics = testTopics("dashboard-data");
let db: TestDatabase;
let config: Config;
let nowhere: string;
const closing: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  db = await freshDatabase("dashboard_data");
  config = testConfig({ ...topics, databaseUrl: db.url, topicPartitions: 2 });
  await ensureTopics(kafkaConnection(config), txlogTopics(config));
  nowhere = `127.0.0.1:${await freePort()}`;
});

afterAll(async () => {
  for (const close of closing) await close();
  await db.drop();
});

const batcher = () =>
  new ProduceBatcher({
    send: async () => {},
    lingerMs: 1,
    batchMessagesMax: 10,
    requestBytesMax: 1024 * 1024,
    inFlightMax: 1,
    queuedMessagesMax: 10,
    acceptTimeoutMs: 1000,
  });

/** An app whose dashboard reads `appConfig`'s broker and `sql`. */
function appOf(appConfig: Config, sql = db.sql) {
  const dashboard = createDashboard(appConfig, sql);
  closing.push(() => dashboard.close());
  const app = createApp({
    config: appConfig,
    sql,
    batcher: batcher(),
    shutdown: { requested: false },
    kafkaAnswers: async () => true,
    dashboard,
  });
  return { app, dashboard };
}

async function readData(app: ReturnType<typeof appOf>["app"]): Promise<{ data: DashboardData; ms: number }> {
  const started = performance.now();
  const response = await app.handle(new Request("http://txlog/dashboard/data"));
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return { data: (await response.json()) as DashboardData, ms: performance.now() - started };
}

test("with Kafka down, lag carries the error and the PostgreSQL sections their data", async () => {
  const rows = [sampleTransaction({ amount: "0.10" }), sampleTransaction({ amount: "0.20" })];
  await writeBatch(
    db.sql,
    rows.map((transaction, offset) => ({ transaction, partition: 0, offset: BigInt(offset) })),
  );
  const { app } = appOf({ ...config, kafkaBrokers: [nowhere] });
  const { data, ms } = await readData(app);
  expect(data.lag.ok).toBe(false);
  if (!data.lag.ok) expect(data.lag.error.length).toBeGreaterThan(0);
  expect(data.summary).toMatchObject({ ok: true, count: 2, totalAmount: "0.30" });
  expect(data.latest.ok && data.latest.transactions.length).toBe(2);
  expect(data.rejections).toEqual({ ok: true, rejections: [] });
  expect(data.rates.ingest.length).toBe(config.dashboardChartSeconds);
  expect(ms).toBeLessThan(lagTimeoutMs + 1500);
});

test("with PostgreSQL down, its sections carry the error and the lag its data", async () => {
  const downSql = openDatabase(`postgres://postgres@${nowhere}/txlog`, { poolMax: 1 });
  closing.push(() => downSql.end());
  const producer = createProducer(kafkaConnection(config));
  closing.push(() => producer.close());
  const messages = [sampleTransaction(), sampleTransaction(), sampleTransaction()].map((t) => ({
    topic: topics.topic,
    key: Buffer.from(t.nameOrig),
    value: encodeMessage(t),
  }));
  await produce(producer, messages);
  const { app } = appOf(config, downSql);
  const { data, ms } = await readData(app);
  for (const section of [data.summary, data.latest, data.rejections]) {
    expect(section.ok).toBe(false);
    if (!section.ok) expect(section.error).toContain("ECONNREFUSED");
  }
  // No worker consumed them: all three are lag, and the group has committed nothing.
  expect(data.lag).toMatchObject({ ok: true, topic: topics.topic, groupId: topics.groupId, total: 3 });
  if (data.lag.ok) {
    expect(data.lag.partitions.map((p) => p.partition)).toEqual([0, 1]);
    expect(data.lag.partitions.every((p) => p.committedOffset === null)).toBe(true);
  }
  expect(ms).toBeLessThan(dashboardQueryTimeoutMs + 1500);
});

test("an accepted POST counts in the ingest rate of the second it was accepted", async () => {
  const { app } = appOf(config);
  const post = (body: unknown, path = "/transaction") =>
    app.handle(
      new Request(`http://txlog${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
  expect((await post(paymentBody)).status).toBe(202);
  expect((await post([paymentBody, paymentBody], "/transactions")).status).toBe(202);
  expect((await post({ ...paymentBody, amount: "1.001" })).status).toBe(422);
  await Bun.sleep(1100);
  const { data } = await readData(app);
  expect(data.rates.ingest.reduce((a, b) => a + b, 0)).toBe(3);
});

test("one read serves every viewer for dashboardCacheMs", async () => {
  const { dashboard } = appOf(config);
  const first = dashboard.read(1_000_000);
  expect(dashboard.read(1_000_000 + dashboardCacheMs - 1)).toBe(first);
  const next = dashboard.read(1_000_000 + dashboardCacheMs);
  expect(next).not.toBe(first);
  await Promise.all([first, next]);
});

test("the summary is read at most every summaryRefreshMs, and the last one is served while it is read again", async () => {
  const { dashboard } = appOf(config);
  const asOf = async (nowMs: number) => {
    const { summary } = await dashboard.read(nowMs);
    return summary.ok ? summary.asOf : summary.error;
  };
  const t0 = 2_000_000;
  const first = await asOf(t0);
  expect(await asOf(t0 + dashboardCacheMs)).toBe(first);
  // Had that read started a new summary, it would have landed by now.
  await Bun.sleep(500);
  expect(await asOf(t0 + 2 * dashboardCacheMs)).toBe(first);
  // Due: a new read starts, and this answer still carries the last one.
  expect(await asOf(t0 + summaryRefreshMs)).toBe(first);
  await Bun.sleep(500);
  expect(await asOf(t0 + summaryRefreshMs + dashboardCacheMs)).not.toBe(first);
});

test("a dashboard query is cancelled by PostgreSQL at its timeout, not left running behind the next poll", async () => {
  const started = performance.now();
  const slow = bounded(db.sql, 200, (tx) => tx`SELECT pg_sleep(5)`);
  await expect(slow).rejects.toMatchObject({ code: "57014" });
  expect(performance.now() - started).toBeLessThan(2000);
  const [running] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' AND state = 'active' AND pid <> pg_backend_pid()`;
  expect(running?.n).toBe(0);
});
