// The whole way: API process -> real Kafka -> worker process -> PostgreSQL ->
// reports. The API and the worker run as `bun run` would start them, each
// as its least-privilege role (DATABASE_API_URL, DATABASE_WORKER_URL).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { paysimRows } from "../data/generate.ts";
import { freePort } from "../scripts/broker.ts";
import type { StoredTransaction } from "../src/postgres/stored-row.ts";
import { parseCommittedLine, parseReceivedLine } from "../src/runtime/log-lines.ts";
import { defaultSeedFile, seed } from "../src/seed.ts";
import { transactionIdForKey } from "../src/transaction/ids.ts";
import { readPaySimCsv } from "../src/transaction/paysim-csv.ts";
import type { Transaction } from "../src/transaction/rules.ts";
import { startProcess as startTxlogProcess } from "./support/processes.ts";
import { createTestRoles, type TestRoles } from "./support/roles.ts";
import { eventually, freshDatabase, type TestDatabase, testConfig, testTopics } from "./support/run.ts";

const topics = testTopics("e2e");
let db: TestDatabase;
let roles: TestRoles;
let env: Record<string, string>;
let apiUrl: string;
const processes: Subprocess[] = [];

/** A txlog process as a deployment starts it, with its output kept for assertions. */
function startProcess(file: string, extraEnv: Record<string, string> = {}) {
  const started = startTxlogProcess(file, { ...env, ...extraEnv });
  processes.push(started.child);
  return started;
}

beforeAll(async () => {
  db = await freshDatabase("e2e");
  roles = await createTestRoles(db.sql, db.url);
  const config = testConfig();
  const port = await freePort();
  env = {
    ...(process.env as Record<string, string>),
    DATABASE_URL: db.url,
    ...roles.env,
    KAFKA_TOPIC: topics.topic,
    KAFKA_DLQ_TOPIC: topics.dlqTopic,
    KAFKA_GROUP_ID: topics.groupId,
    KAFKA_BROKERS: config.kafkaBrokers.join(","),
    PORT: String(port),
    WORKER_BATCH_LINGER_MS: "50",
  };
  apiUrl = `http://127.0.0.1:${port}`;
  const api = startProcess("src/api.ts");
  await eventually(
    async () =>
      (await fetch(`${apiUrl}/ready`).then(
        (r) => r.ok,
        () => false,
      ))
        ? true
        : undefined,
    60_000,
    `API ready (output: ${api.output.text})`,
  );
}, 90_000);

afterAll(async () => {
  for (const child of processes) child.kill("SIGTERM");
  await Promise.all(processes.map((child) => child.exited));
  await db.drop();
  await roles?.drop();
}, 60_000);

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(`${apiUrl}${path}`);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

async function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${apiUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

async function storedCount(ids: string[]): Promise<number> {
  const [row] = await db.sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM transactions WHERE transaction_id = ANY(${ids}::uuid[])`;
  return row?.n ?? 0;
}

type Page = { transactions: StoredTransaction[]; nextCursor: string | null };

describe("after the seed", () => {
  let csv: Transaction[];
  beforeAll(async () => {
    const result = await seed(db.sql);
    expect(result.inserted).toBe(100);
    csv = [];
    for await (const record of readPaySimCsv(defaultSeedFile, { rowsMax: 100 })) {
      if (record.checked.ok) csv.push(record.checked.value);
    }
    expect(csv.length).toBe(100);
  });

  test("GET /reports returns the 100 seeded rows, Completed, newest first, with exact amounts", async () => {
    const page = await getJson<Page>("/reports?limit=1000");
    expect(page.transactions.length).toBe(100);
    expect(page.nextCursor).toBeNull();
    const ids = new Set(page.transactions.map((row) => row.transactionId));
    for (let line = 2; line <= 101; line++) expect(ids.has(transactionIdForKey(`seed:${line}`))).toBe(true);
    for (const row of page.transactions) expect(row.status).toBe("Completed");
    const times = page.transactions.map((row) => Date.parse(row.acceptedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const amounts = page.transactions.map((row) => row.amount).sort();
    expect(amounts).toEqual(csv.map((row) => row.amount).sort());
  });

  test("the default page is 100 rows and keyset pages of 30 cover every row once, in order", async () => {
    const all = (await getJson<Page>("/reports")).transactions.map((row) => row.transactionId);
    expect(all.length).toBe(100);
    const paged: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? "" : `&cursor=${cursor}`;
      const page: Page = await getJson<Page>(`/reports?limit=30${query}`);
      paged.push(...page.transactions.map((row) => row.transactionId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(4);
    expect(paged).toEqual(all);
  });

  test("filters agree with the CSV: type, account, isFraud, step range", async () => {
    for (const type of ["PAYMENT", "TRANSFER", "CASH_OUT"]) {
      const page = await getJson<Page>(`/reports?limit=1000&type=${type}`);
      expect(page.transactions.length).toBe(csv.filter((row) => row.type === type).length);
    }
    const account = csv[0]?.nameOrig as string;
    const byAccount = await getJson<Page>(`/reports?limit=1000&account=${account}`);
    expect(byAccount.transactions.length).toBe(
      csv.filter((row) => row.nameOrig === account || row.nameDest === account).length,
    );
    const fraud = await getJson<Page>("/reports?limit=1000&isFraud=0");
    expect(fraud.transactions.length).toBe(csv.filter((row) => !row.isFraud).length);
    const steps = await getJson<Page>("/reports?limit=1000&stepMin=1&stepMax=1");
    expect(steps.transactions.length).toBe(csv.filter((row) => row.step === 1).length);
  });

  test("a bad query or cursor is refused with the field named", async () => {
    for (const [query, field] of [
      ["limit=0", "limit"],
      ["limit=1001", "limit"],
      ["limit=abc", "limit"],
      ["stepMin=0", "stepMin"],
      ["stepMax=10001", "stepMax"],
      ["type=LOAN", "type"],
      ["cursor=nope", "cursor"],
      ["isFraud=maybe", "isFraud"],
    ]) {
      const response = await fetch(`${apiUrl}/reports?${query}`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { message: string }).message).toContain(`${field}: `);
    }
  });

  test("GET /reports/summary counts and sums exactly", async () => {
    const summary = await getJson<{
      count: number;
      totalAmount: string;
      fraudCount: number;
      byType: { type: string; count: number }[];
    }>("/reports/summary");
    expect(summary.count).toBe(100);
    const cents = csv.reduce((sum, row) => sum + BigInt(row.amount.replace(".", "")), 0n);
    expect(summary.totalAmount).toBe(`${cents / 100n}.${String(cents % 100n).padStart(2, "0")}`);
    expect(summary.fraudCount).toBe(csv.filter((row) => row.isFraud).length);
    expect(summary.byType.reduce((sum, row) => sum + row.count, 0)).toBe(100);
  });
});

describe("through the worker", () => {
  let worker: ReturnType<typeof startProcess>;
  beforeAll(() => {
    worker = startProcess("src/worker.ts");
  });

  test("a POST answers 202, the worker logs Message Received and DB Committed, and the row is Completed", async () => {
    const response = await postJson("/transaction", {
      step: 7,
      type: "TRANSFER",
      amount: "181.00",
      nameOrig: "C1305486145",
      oldbalanceOrg: 181,
      newbalanceOrig: 0,
      nameDest: "C553264065",
      oldbalanceDest: 0,
      newbalanceDest: 0,
      isFraud: true,
    });
    expect(response.status).toBe(202);
    const { transactionId } = (await response.json()) as { transactionId: string };
    const stored = await eventually(
      async () => {
        const r = await fetch(`${apiUrl}/transactions/${transactionId}`);
        return r.status === 200 ? ((await r.json()) as StoredTransaction) : undefined;
      },
      30_000,
      "row stored",
    );
    expect(stored).toMatchObject({ transactionId, status: "Completed", amount: "181.00", isFraud: true, step: 7 });
    // The row is visible at the database commit; the log line follows the offset commit.
    const figures = <T>(parse: (line: string) => T | undefined) =>
      worker.output.text.split("\n").flatMap((line) => parse(line) ?? []);
    await eventually(
      async () => (figures(parseCommittedLine).some((c) => c.inserted > 0) ? true : undefined),
      10_000,
      "log",
    );
    expect(figures(parseReceivedLine).some((r) => r.messages > 0)).toBe(true);
  }, 60_000);

  test("the API and the worker connect as their own roles, not as the owner", async () => {
    const [row] = await db.sql<{ users: string[] }[]>`
      SELECT array_agg(DISTINCT usename::text ORDER BY usename::text) AS users
      FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`;
    // After a write through the worker. The test's own pool is the owner's;
    // the processes hold connections only as their roles.
    expect(row?.users).toContain(roles.roles.api.name);
    expect(row?.users).toContain(roles.roles.worker.name);
  });

  test("the same Idempotency-Key twice: one id, one row", async () => {
    const body = {
      step: 2,
      type: "PAYMENT",
      amount: 12.5,
      nameOrig: "C9",
      oldbalanceOrg: 100,
      newbalanceOrig: 87.5,
      nameDest: "M9",
      oldbalanceDest: 0,
      newbalanceDest: 0,
    };
    const key = `retry-${crypto.randomUUID()}`;
    const first = (await (await postJson("/transaction", body, { "idempotency-key": key })).json()) as {
      transactionId: string;
    };
    const second = (await (await postJson("/transaction", body, { "idempotency-key": key })).json()) as {
      transactionId: string;
    };
    expect(second.transactionId).toBe(first.transactionId);
    await eventually(async () => ((await storedCount([first.transactionId])) === 1 ? true : undefined), 30_000);
    // Give a second copy every chance to arrive: it must not.
    const marker = (await (await postJson("/transaction", body)).json()) as { transactionId: string };
    await eventually(async () => ((await storedCount([marker.transactionId])) === 1 ? true : undefined), 30_000);
    const [row] = await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM transactions WHERE transaction_id = ${first.transactionId}`;
    expect(row?.n).toBe(1);
  }, 60_000);

  test("an Idempotency-Key reused for another transaction: 409 once the first is stored; the same one again: 202, same id", async () => {
    const key = `reuse-${crypto.randomUUID()}`;
    const body = {
      step: 3,
      type: "PAYMENT",
      amount: 40,
      nameOrig: "C77",
      oldbalanceOrg: 100,
      newbalanceOrig: 60,
      nameDest: "M77",
      oldbalanceDest: 0,
      newbalanceDest: 0,
    };
    const first = (await (await postJson("/transaction", body, { "idempotency-key": key })).json()) as {
      transactionId: string;
    };
    await eventually(async () => ((await storedCount([first.transactionId])) === 1 ? true : undefined), 30_000);
    const reused = await postJson("/transaction", { ...body, amount: 41 }, { "idempotency-key": key });
    expect(reused.status).toBe(409);
    const answer = (await reused.json()) as { error: string; message: string; errors: { field: string }[] };
    expect(answer.error).toBe("idempotency_key_reused");
    expect(answer.errors[0]?.field).toBe("idempotency-key");
    // The same transaction in another spelling (a string amount) is the same request: a retry.
    const retried = await postJson("/transaction", { ...body, amount: "40.00" }, { "idempotency-key": key });
    expect(retried.status).toBe(202);
    expect(((await retried.json()) as { transactionId: string }).transactionId).toBe(first.transactionId);
  }, 60_000);

  test("batch element ids live in their own namespace: a single POST keyed K:0 is not element 0 of batch K", async () => {
    const key = `ns-${crypto.randomUUID()}`;
    const row = {
      step: 1,
      type: "CASH_IN",
      amount: 1,
      nameOrig: "C5",
      oldbalanceOrg: 0,
      newbalanceOrig: 1,
      nameDest: "M5",
      oldbalanceDest: 0,
      newbalanceDest: 0,
    };
    const batch = (await (await postJson("/transactions", [row], { "idempotency-key": key })).json()) as {
      transactionIds: string[];
    };
    const single = (await (await postJson("/transaction", row, { "idempotency-key": `${key}:0` })).json()) as {
      transactionId: string;
    };
    expect(single.transactionId).not.toBe(batch.transactionIds[0]);
  }, 30_000);

  test("a 10,000-row replay through POST /transactions ends with exactly 10,000 rows", async () => {
    const rows = [...paysimRows({ rows: 10_000, seed: 7 })];
    const ids: string[] = [];
    for (let start = 0; start < rows.length; start += 1000) {
      const response = await postJson("/transactions", rows.slice(start, start + 1000));
      expect(response.status).toBe(202);
      ids.push(...((await response.json()) as { transactionIds: string[] }).transactionIds);
    }
    expect(new Set(ids).size).toBe(10_000);
    await eventually(
      async () => ((await storedCount(ids)) === 10_000 ? true : undefined),
      60_000,
      "10,000 rows stored",
    );
    const [dupes] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM (SELECT transaction_id FROM transactions GROUP BY 1 HAVING count(*) > 1) d`;
    expect(dupes?.n).toBe(0);
  }, 120_000);

  test("a worker killed mid-stream and restarted still leaves exactly one row per 202", async () => {
    const rows = [...paysimRows({ rows: 6_000, seed: 11 })];
    const ids: string[] = [];
    for (let start = 0; start < rows.length; start += 500) {
      const response = await postJson("/transactions", rows.slice(start, start + 500));
      expect(response.status).toBe(202);
      ids.push(...((await response.json()) as { transactionIds: string[] }).transactionIds);
      if (start === 2000) worker.child.kill("SIGKILL"); // no goodbye: offsets and rows as a crash leaves them
    }
    await worker.child.exited;
    worker = startProcess("src/worker.ts");
    await eventually(
      async () => ((await storedCount(ids)) === ids.length ? true : undefined),
      90_000,
      "all rows stored",
    );
    await Bun.sleep(1000);
    expect(await storedCount(ids)).toBe(ids.length);
    const [total] = await db.sql<{ n: number; distinct: number }[]>`
      SELECT count(*)::int AS n, count(DISTINCT transaction_id)::int AS distinct FROM transactions`;
    expect(total?.n).toBe(total?.distinct as number);
  }, 150_000);
});
