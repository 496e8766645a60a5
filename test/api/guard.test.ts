// API keys at the HTTP edge, against the real broker and PostgreSQL: 401 and
// 403 before any body is read, the per-key rate limit (429), the cap on
// requests in flight (503), and what stays open.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { createApp } from "../../src/api/app.ts";
import { type RunningApi, startApi } from "../../src/api.ts";
import { endOffsets } from "../../src/kafka/admin.ts";
import { type ApiKeyScope, apiKeyEntryText, newApiKey, parseApiKeyEntries } from "../../src/runtime/api-keys.ts";
import type { Config } from "../../src/runtime/config.ts";
import { paymentBody as paysimRow } from "../support/processes.ts";
import {
  discardingBatcher,
  freshDatabase,
  kafkaConnection,
  type TestDatabase,
  testConfig,
  testTopics,
} from "../support/run.ts";

const writer = newApiKey("writer");
const reader = newApiKey("reader");
const both = newApiKey("both");

function entries(keys: [{ id: string; key: string }, ApiKeyScope[]][]) {
  return parseApiKeyEntries(
    "TXLOG_API_KEYS",
    keys.map(([k, scopes]) => apiKeyEntryText(k.id, scopes, k.key)).join(","),
  );
}

const keyed = entries([
  [writer, ["write"]],
  [reader, ["read"]],
  [both, ["write", "read"]],
]);
const topics = testTopics("guard");
let db: TestDatabase;
let config: Config;
let api: RunningApi;
beforeAll(async () => {
  db = await freshDatabase("guard");
  config = testConfig({ port: 0, ...topics, databaseUrl: db.url, apiKeys: keyed });
  api = await startApi(config);
});
afterAll(async () => {
  await api.stop();
  await db.drop();
});

function call(path: string, init: { method?: string; key?: string; body?: string; headers?: Record<string, string> }) {
  const headers: Record<string, string> = { "content-type": "application/json", ...init.headers };
  if (init.key !== undefined) headers.authorization = `Bearer ${init.key}`;
  return fetch(`${api.url}${path}`, { method: init.method ?? "GET", headers, body: init.body });
}

async function messagesOnTopic(): Promise<bigint> {
  const ends = await endOffsets(kafkaConnection(config), config.topic);
  return [...ends.values()].reduce((a, b) => a + b, 0n);
}

const guarded: [string, string][] = [
  ["POST", "/transaction"],
  ["POST", "/transactions"],
  ["GET", `/transactions/${crypto.randomUUID()}`],
  ["GET", "/reports"],
  ["GET", "/reports/summary"],
  ["GET", "/rejections"],
];

describe("authentication", () => {
  test("no key or a wrong one: 401 with WWW-Authenticate: Bearer on every guarded route, before the body is read; nothing produced", async () => {
    const before = await messagesOnTopic();
    const wrongSecret = `${writer.key.slice(0, -4)}0000`;
    for (const [method, path] of guarded) {
      for (const key of [undefined, wrongSecret, newApiKey("writer").key, "not-a-key"]) {
        // Malformed JSON: a route that read it first would answer 400.
        const response = await call(path, { method, key, body: method === "POST" ? "{not json" : undefined });
        expect(response.status, `${method} ${path} with ${key ?? "no key"}`).toBe(401);
        expect(response.headers.get("www-authenticate")).toStartWith("Bearer");
        const body = (await response.json()) as { error: string; errors: { field: string }[] };
        expect(body.error).toBe("unauthorized");
        expect(body.errors[0]?.field).toBe("authorization");
      }
    }
    expect(await messagesOnTopic()).toBe(before);
  });

  test("the wrong scope: 403 naming the key id and the scope it lacks", async () => {
    const post = await call("/transaction", { method: "POST", key: reader.key, body: JSON.stringify(paysimRow) });
    expect(post.status).toBe(403);
    expect(((await post.json()) as { message: string }).message).toContain("API key reader lacks scope write");
    const get = await call("/reports", { key: writer.key });
    expect(get.status).toBe(403);
    expect(((await get.json()) as { message: string }).message).toContain("API key writer lacks scope read");
  });

  test("the right scope passes: POST with write, GETs with read, and a key with both does both", async () => {
    const post = await call("/transaction", { method: "POST", key: writer.key, body: JSON.stringify(paysimRow) });
    expect(post.status).toBe(202);
    expect(
      (await call("/transactions", { method: "POST", key: both.key, body: JSON.stringify([paysimRow]) })).status,
    ).toBe(202);
    for (const [, path] of guarded.filter(([method]) => method === "GET")) {
      const status = (await call(path, { key: reader.key })).status;
      expect(status, path).toBe(path.startsWith("/transactions/") ? 404 : 200);
      expect((await call(path, { key: both.key })).status).toBe(status);
    }
    // Past the guard the route's own checks apply as before.
    expect((await call("/transaction", { method: "POST", key: writer.key, body: "{not json" })).status).toBe(400);
  });

  test("/health, /ready and /swagger stay open; the OpenAPI document names the bearer scheme on guarded routes", async () => {
    for (const path of ["/health", "/ready", "/swagger", "/swagger/json"]) {
      expect((await call(path, {})).status, path).toBe(200);
    }
    const doc = (await (await call("/swagger/json", {})).json()) as {
      components: { securitySchemes: Record<string, { scheme: string }> };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.components.securitySchemes.apiKey?.scheme).toBe("bearer");
    expect(doc.paths["/transaction"]?.post?.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths["/health"]?.get?.security).toBeUndefined();
  });
});

/** An app on `db` whose batcher never reaches Kafka: enough for the guard's answers. */
function appWith(overrides: Partial<Config>, requestsInFlight?: () => number) {
  const appConfig = testConfig({ ...topics, databaseUrl: db.url, apiKeys: keyed, ...overrides });
  return createApp({
    config: appConfig,
    sql: db.sql,
    batcher: discardingBatcher(),
    shutdown: { requested: false },
    kafkaAnswers: async () => true,
    requestsInFlight,
  });
}

function get(app: ReturnType<typeof appWith>, path: string, key?: string) {
  const headers: Record<string, string> = key === undefined ? {} : { authorization: `Bearer ${key}` };
  return app.handle(new Request(`http://txlog${path}`, { headers }));
}

describe("rate limit", () => {
  test("past its burst a key gets 429 with Retry-After and the limit named; another key is not slowed", async () => {
    const app = appWith({ apiKeyRequestsPerS: 1, apiKeyBurstRequests: 3 });
    for (let i = 0; i < 3; i++) expect((await get(app, "/reports/summary", reader.key)).status).toBe(200);
    const limited = await get(app, "/reports/summary", reader.key);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await limited.json()) as { error: string; message: string };
    expect(body.error).toBe("rate_limited");
    expect(body.message).toContain("API key reader");
    expect(body.message).toContain("API_KEY_REQUESTS_PER_S");
    expect((await get(app, "/reports/summary", both.key)).status).toBe(200);
    // A refused request (401) takes nothing from any bucket.
    expect((await get(app, "/reports/summary")).status).toBe(401);
    // One token a second: after a second, one more request passes.
    await Bun.sleep(1100);
    expect((await get(app, "/reports/summary", reader.key)).status).toBe(200);
    expect((await get(app, "/reports/summary", reader.key)).status).toBe(429);
  });

  test("without keys every client shares one bucket", async () => {
    const app = appWith({ apiKeys: [], apiKeyRequestsPerS: 1, apiKeyBurstRequests: 2 });
    expect((await get(app, "/reports/summary")).status).toBe(200);
    expect((await get(app, "/reports/summary", writer.key)).status).toBe(200);
    const limited = await get(app, "/reports/summary");
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { message: string }).message).toContain("no API key configured");
    // Health is never limited.
    expect((await get(app, "/health")).status).toBe(200);
  });
});

/** Sends a POST's head and half its body, then waits: a request in flight until `finish`. */
function halfSentPost(url: string, key: string): { socket: Socket; finish(): Promise<number> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const body = JSON.stringify(paysimRow);
  const half = Math.floor(body.length / 2);
  socket.write(
    `POST /transaction HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${key}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, half)}`,
  );
  const answer = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    return Number(Buffer.concat(chunks).toString().split(" ")[1]);
  })();
  return {
    socket,
    finish() {
      socket.write(body.slice(half));
      return answer;
    },
  };
}

describe("requests in flight", () => {
  test("over API_REQUESTS_IN_FLIGHT_MAX: 503 with Retry-After naming the limit; /health still answers", async () => {
    const app = appWith({ requestsInFlightMax: 4 }, () => 5);
    const response = await get(app, "/reports/summary", reader.key);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    const body = (await response.json()) as { error: string; message: string };
    expect(body.error).toBe("too_many_requests_in_flight");
    expect(body.message).toContain("API_REQUESTS_IN_FLIGHT_MAX");
    expect((await get(app, "/health")).status).toBe(200);
    expect(
      (
        await get(
          appWith({ requestsInFlightMax: 5 }, () => 5),
          "/reports/summary",
          reader.key,
        )
      ).status,
    ).toBe(200);
  });

  test("a real server counts requests whose bodies are still arriving; once they are answered, requests pass again", async () => {
    const capped = await startApi({ ...config, requestsInFlightMax: 2 });
    const url = capped.url;
    try {
      // One after the other, each given time to pass the guard and wait for the
      // rest of its body: had the second seen the first's probe, it would be refused.
      const held: ReturnType<typeof halfSentPost>[] = [];
      for (let i = 0; i < 2; i++) {
        held.push(halfSentPost(url, writer.key));
        await Bun.sleep(500);
      }
      const probe = await fetch(`${url}/reports/summary`, { headers: { authorization: `Bearer ${reader.key}` } });
      expect(probe.status).toBe(503);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect(await Promise.all(held.map((request) => request.finish()))).toEqual([202, 202]);
      const after = await fetch(`${url}/reports/summary`, { headers: { authorization: `Bearer ${reader.key}` } });
      expect(after.status).toBe(200);
    } finally {
      await capped.stop();
    }
  }, 30_000);
});
