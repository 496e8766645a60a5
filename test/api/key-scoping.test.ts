// API keys through the whole path, API and worker on a database of their own:
// an Idempotency-Key is scoped per API key, and each stored transaction
// carries the id of the key it was sent with (never the secret).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type RunningApi, startApi } from "../../src/api.ts";
import { type ApiKeyScope, apiKeyEntryText, newApiKey, parseApiKeyEntries } from "../../src/runtime/api-keys.ts";
import { transactionIdForKey } from "../../src/transaction/ids.ts";
import { startWorker, type WorkerHandle } from "../../src/worker.ts";
import { silentLog } from "../support/logs.ts";
import { paymentBody } from "../support/processes.ts";
import { eventually, freshDatabase, type TestDatabase, testConfig, testTopics } from "../support/run.ts";

const alice = newApiKey("alice");
const bob = newApiKey("bob");
const scopes: ApiKeyScope[] = ["write", "read"];
let db: TestDatabase;
let api: RunningApi;
let worker: WorkerHandle;
beforeAll(async () => {
  db = await freshDatabase("key_scoping");
  const apiKeys = parseApiKeyEntries(
    "TXLOG_API_KEYS",
    [alice, bob].map((k) => apiKeyEntryText(k.id, scopes, k.key)).join(","),
  );
  const config = testConfig({
    port: 0,
    ...testTopics("key-scoping"),
    databaseUrl: db.url,
    apiKeys,
    batchLingerMs: 20,
  });
  api = await startApi(config);
  worker = await startWorker(config, { log: silentLog });
});
afterAll(async () => {
  await api.stop();
  await worker.stop();
  await db.drop();
});

async function post(path: string, key: string, body: unknown, idempotencyKey: string) {
  const response = await fetch(`${api.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}`, "idempotency-key": idempotencyKey },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function stored(ids: string[]): Promise<Map<string, { api_key_id: string | null; amount: string }>> {
  return eventually(async () => {
    const rows = await db.sql<{ transaction_id: string; api_key_id: string | null; amount: string }[]>`
      SELECT transaction_id, api_key_id, amount::text FROM transactions WHERE transaction_id = ANY(${ids}::uuid[])`;
    return rows.length === ids.length ? new Map(rows.map((row) => [row.transaction_id, row])) : undefined;
  }, 30_000);
}

test("the same Idempotency-Key from two API keys gives two transactions, each stored with its key id; a retry gives the same", async () => {
  expect(api.keysLine).toBe("API keys on: 2 configured (ids alice, bob); POST needs scope write, reads need read");
  const key = `order-${crypto.randomUUID()}`;
  const fromAlice = await post("/transaction", alice.key, paymentBody, key);
  const fromBob = await post("/transaction", bob.key, { ...paymentBody, amount: "20.00" }, key);
  expect([fromAlice.status, fromBob.status]).toEqual([202, 202]);
  const aliceId = fromAlice.body.transactionId as string;
  const bobId = fromBob.body.transactionId as string;
  expect(aliceId).not.toBe(bobId);
  expect(aliceId).toBe(transactionIdForKey(key, "alice"));
  expect((await post("/transaction", alice.key, paymentBody, key)).body.transactionId).toBe(aliceId);

  const rows = await stored([aliceId, bobId]);
  expect(rows.get(aliceId)).toMatchObject({ api_key_id: "alice", amount: "10.00" });
  expect(rows.get(bobId)).toMatchObject({ api_key_id: "bob", amount: "20.00" });
  const [count] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM transactions`;
  expect(count?.n).toBe(2);

  // Bound per API key: once stored, another transaction under the same
  // Idempotency-Key is a 409 for each key's own; a new Idempotency-Key used by
  // both with different transactions is no conflict between them.
  expect((await post("/transaction", alice.key, { ...paymentBody, amount: "30.00" }, key)).status).toBe(409);
  expect((await post("/transaction", bob.key, paymentBody, key)).status).toBe(409);
  const fresh = `order-${crypto.randomUUID()}`;
  expect((await post("/transaction", alice.key, paymentBody, fresh)).status).toBe(202);
  expect((await post("/transaction", bob.key, { ...paymentBody, amount: "30.00" }, fresh)).status).toBe(202);

  // GET /transactions/{id} answers the key id: an id, never the secret.
  const response = await fetch(`${api.url}/transactions/${aliceId}`, {
    headers: { authorization: `Bearer ${bob.key}` },
  });
  const body = (await response.json()) as Record<string, unknown>;
  expect(body.apiKeyId).toBe("alice");
  expect(JSON.stringify(body)).not.toContain(alice.key.slice(-64));
}, 60_000);

test("batch elements under one Idempotency-Key are scoped per API key too", async () => {
  const key = `batch-${crypto.randomUUID()}`;
  const fromAlice = await post("/transactions", alice.key, [paymentBody, paymentBody], key);
  const fromBob = await post("/transactions", bob.key, [paymentBody, paymentBody], key);
  const aliceIds = fromAlice.body.transactionIds as string[];
  const bobIds = fromBob.body.transactionIds as string[];
  expect(new Set([...aliceIds, ...bobIds]).size).toBe(4);
  const rows = await stored([...aliceIds, ...bobIds]);
  expect(aliceIds.map((id) => rows.get(id)?.api_key_id)).toEqual(["alice", "alice"]);
  expect(bobIds.map((id) => rows.get(id)?.api_key_id)).toEqual(["bob", "bob"]);
}, 60_000);
