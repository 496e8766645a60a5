// The ingest API against a real Kafka broker: what a 202 promises, what bad
// input gets, and that nothing reaches Kafka unless the whole request is good.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { createApp } from "../../src/api/app.ts";
import { ProduceBatcher } from "../../src/api/produce-batcher.ts";
import { type RunningApi, startApi } from "../../src/api.ts";
import { endOffsets } from "../../src/kafka/admin.ts";
import {
  consume,
  createConsumer,
  createProducer,
  type KafkaMessage,
  produce,
  produceRecordBytesMax,
} from "../../src/kafka/client.ts";
import { openDatabase } from "../../src/postgres/connection.ts";
import { transactionIdForBatchElement, transactionIdForKey } from "../../src/transaction/ids.ts";
import { decodeMessage } from "../../src/transaction/message.ts";
import { startWorker } from "../../src/worker.ts";
import { silentLog } from "../support/logs.ts";
import { eventually, freshDatabase, kafkaConnection, testConfig, testTopics } from "../support/run.ts";

const topics = testTopics("api");
const config = testConfig({ port: 0, ...topics });
let api: RunningApi;
beforeAll(async () => {
  api = await startApi(config);
});
afterAll(() => api.stop());

export const paysimRow = {
  step: 1,
  type: "PAYMENT",
  amount: 9839.64,
  nameOrig: "C1231006815",
  oldbalanceOrg: 170136.0,
  newbalanceOrig: 160296.36,
  nameDest: "M1979787155",
  oldbalanceDest: 0.0,
  newbalanceDest: 0.0,
  isFraud: 0,
  isFlaggedFraud: 0,
};

/**
 * One HTTP/1.1 request written by hand, for what fetch cannot send (a header
 * twice); the status and the JSON body of the answer.
 */
async function rawPost(path: string, headers: [string, string][], body: string) {
  const { hostname, port } = new URL(api.url);
  const socket = connect(Number(port), hostname);
  const head = [
    `POST ${path} HTTP/1.1`,
    `Host: ${hostname}`,
    "Content-Type: application/json",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    ...headers.map(([name, value]) => `${name}: ${value}`),
  ];
  // Written, not ended: "Connection: close" has the server close once it answered.
  socket.write(`${head.join("\r\n")}\r\n\r\n${body}`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const answer = Buffer.concat(chunks).toString("utf8");
  const statusLine = answer.slice(0, answer.indexOf("\r\n"));
  const answerBody = answer.slice(answer.indexOf("\r\n\r\n") + 4);
  return { status: Number(statusLine.split(" ")[1]), body: JSON.parse(answerBody) as Record<string, unknown> };
}

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${api.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function totalEnd(): Promise<bigint> {
  const ends = await endOffsets(kafkaConnection(config), config.topic);
  return [...ends.values()].reduce((a, b) => a + b, 0n);
}

/** Reads the topic from the start until `ids` are all seen; returns their messages. */
async function readFromTopic(ids: string[]): Promise<Map<string, KafkaMessage>> {
  const consumer = createConsumer(kafkaConnection(config), { groupId: `${topics.groupId}-reader-${Date.now()}` });
  const stream = await consume(consumer, [config.topic]);
  const found = new Map<string, KafkaMessage>();
  const wanted = new Set(ids);
  const timer = setTimeout(() => stream.close(), 20_000);
  for await (const message of stream) {
    const decoded = decodeMessage(message.value);
    if (decoded.ok && wanted.has(decoded.value.transactionId)) found.set(decoded.value.transactionId, message);
    if (found.size === wanted.size) break;
  }
  clearTimeout(timer);
  await stream.close();
  await consumer.close();
  return found;
}

describe("POST /transaction", () => {
  test("202 only once Kafka holds the transaction: id, Location, and the message on the topic keyed by nameOrig", async () => {
    const response = await post("/transaction", paysimRow);
    expect(response.status).toBe(202);
    const body = (await response.json()) as { transactionId: string; status: string };
    expect(body.status).toBe("pending");
    expect(body.transactionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(response.headers.get("location")).toBe(`/transactions/${body.transactionId}`);

    const message = (await readFromTopic([body.transactionId])).get(body.transactionId) as KafkaMessage;
    expect(message.key.toString()).toBe("C1231006815");
    const decoded = decodeMessage(message.value);
    expect(decoded.ok && decoded.value.amount).toBe("9839.64");
    expect(decoded.ok && decoded.value.newbalanceOrig).toBe("160296.36");
    expect(decoded.ok && Date.parse(decoded.value.acceptedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  test("money as decimal strings is taken exactly", async () => {
    const response = await post("/transaction", { ...paysimRow, amount: "10000000000000.00", oldbalanceOrg: "0.1" });
    expect(response.status).toBe(202);
    const { transactionId } = (await response.json()) as { transactionId: string };
    const decoded = decodeMessage((await readFromTopic([transactionId])).get(transactionId)?.value);
    expect(decoded.ok && decoded.value.amount).toBe("10000000000000.00");
    expect(decoded.ok && decoded.value.oldbalanceOrg).toBe("0.10");
  });

  test("the same Idempotency-Key always yields the same id", async () => {
    const key = `order-${crypto.randomUUID()}`;
    const first = (await (await post("/transaction", paysimRow, { "idempotency-key": key })).json()) as {
      transactionId: string;
    };
    const second = (await (await post("/transaction", paysimRow, { "idempotency-key": key })).json()) as {
      transactionId: string;
    };
    expect(first.transactionId).toBe(second.transactionId);
    expect(first.transactionId).toBe(transactionIdForKey(key));
    const other = (await (await post("/transaction", paysimRow, { "idempotency-key": `${key}-2` })).json()) as {
      transactionId: string;
    };
    expect(other.transactionId).not.toBe(first.transactionId);
  });
});

// One case per validation rule: status, the field named, the rule stated, nothing produced.
const invalidCases: [string, unknown, string, RegExp][] = [
  ["step below 1", { ...paysimRow, step: 0 }, "step", /integer from 1 to 10000/],
  ["step above 10000", { ...paysimRow, step: 10001 }, "step", /integer from 1 to 10000/],
  ["step not an integer", { ...paysimRow, step: 1.5 }, "step", /integer/],
  // Elysia's t.Integer also takes a string of digits, with no bounds on it.
  ["step as a string out of range", { ...paysimRow, step: "-1" }, "step", /integer from 1 to 10000/],
  ["step as a hex string", { ...paysimRow, step: "0x10" }, "step", /integer from 1 to 10000/],
  ["type missing (never defaulted)", { ...paysimRow, type: undefined }, "type", /is required/],
  ["unknown type", { ...paysimRow, type: "REFUND" }, "type", /one of CASH_IN, CASH_OUT, DEBIT, PAYMENT, TRANSFER/],
  ["negative amount", { ...paysimRow, amount: -1 }, "amount", /from 0 to 10000000000000/],
  ["amount above 10^13", { ...paysimRow, amount: "10000000000000.01" }, "amount", /from 0 to 10000000000000/],
  ["amount with 3 decimals", { ...paysimRow, amount: "1.005" }, "amount", /at most 2 fractional digits/],
  ["float noise in amount", { ...paysimRow, amount: 0.1 + 0.2 }, "amount", /at most 2 fractional digits/],
  ["amount in exponent form", { ...paysimRow, amount: "1e5" }, "amount", /decimal string/],
  ["amount as boolean", { ...paysimRow, amount: true }, "amount", /number or decimal string/],
  ["balance missing", { ...paysimRow, oldbalanceDest: undefined }, "oldbalanceDest", /is required/],
  ["empty nameOrig", { ...paysimRow, nameOrig: "" }, "nameOrig", /1 to 64 printable/],
  ["nameDest with a space", { ...paysimRow, nameDest: "M 1" }, "nameDest", /without spaces/],
  ["nameOrig too long", { ...paysimRow, nameOrig: "C".repeat(65) }, "nameOrig", /1 to 64/],
  ["isFraud not a flag", { ...paysimRow, isFraud: 2 }, "isFraud", /0, 1, true or false/],
  ["isFlaggedFraud as string", { ...paysimRow, isFlaggedFraud: "yes" }, "isFlaggedFraud", /0, 1, true or false/],
  ["unknown field", { ...paysimRow, currency: "EUR" }, "currency", /not a field/],
];

describe("validation", () => {
  for (const [name, body, field, rule] of invalidCases) {
    test(`${name}: 422 naming ${field} and the rule, nothing produced`, async () => {
      const before = await totalEnd();
      const response = await post("/transaction", body);
      expect(response.status).toBe(422);
      const error = (await response.json()) as {
        error: string;
        message: string;
        errors: { field: string; rule: string }[];
      };
      expect(error.error).toBe("invalid_transaction");
      const named = error.errors.find((e) => e.field === field);
      expect(named?.rule).toMatch(rule);
      expect(error.message).toContain(`${field}: `);
      expect(await totalEnd()).toBe(before);
    });
  }

  test("malformed JSON: 400", async () => {
    const response = await post("/transaction", "{not json");
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toMatch(/valid JSON/);
  });

  test("a body that is not an object: 422", async () => {
    const response = await post("/transaction", [1, 2]);
    expect(response.status).toBe(422);
    expect(((await response.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe("(body)");
  });

  test("an Idempotency-Key that is too long: 400 naming the header", async () => {
    const response = await post("/transaction", paysimRow, { "idempotency-key": "k".repeat(256) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toMatch(/idempotency-key: must be 1 to 255/);
  });

  test("a body over BODY_BYTES_MAX is refused with 413 and the error body naming the limit", async () => {
    const response = await post("/transactions", "x".repeat(config.bodyBytesMax + 1));
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: "body_too_large",
      message: `(body): must be at most ${config.bodyBytesMax} bytes (BODY_BYTES_MAX)`,
      errors: [{ field: "(body)", rule: `must be at most ${config.bodyBytesMax} bytes (BODY_BYTES_MAX)` }],
    });
  });

  test("a body without Content-Length (chunked) is counted as it arrives: over the limit, 413 with the error body", async () => {
    const bodyBytesMax = 1024;
    const sql = openDatabase(config.databaseUrl, { poolMax: 1 });
    const small = createApp({
      config: { ...config, bodyBytesMax },
      sql,
      batcher: api.batcher,
      shutdown: { requested: false },
      kafkaAnswers: async () => true,
    });
    const chunked = (bytes: number) =>
      small.handle(
        new Request("http://txlog/transactions", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: new ReadableStream({
            start(controller) {
              for (let sent = 0; sent < bytes; sent += 100)
                controller.enqueue(new TextEncoder().encode(" ".repeat(100)));
              controller.close();
            },
          }),
        }),
      );
    const over = await chunked(bodyBytesMax + 100);
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: string }).error).toBe("body_too_large");
    // Within the limit it is read and judged: blanks are no JSON.
    expect((await chunked(bodyBytesMax - 100)).status).toBe(400);
    await sql.end();
  });

  test("a number with more digits than a double holds is refused, not rounded: judged by the digits sent", async () => {
    const before = await totalEnd();
    const exact = JSON.stringify(paysimRow);
    for (const [field, text] of [
      ["amount", "100.0000000000000001"],
      ["oldbalanceOrg", "170136.00000000000001"],
      ["step", "1.0000000000000001"],
      ["isFraud", "1.00000000000000001"],
    ] as const) {
      const body = exact.replace(new RegExp(`"${field}":[^,]+`), `"${field}":${text}`);
      expect(body).toContain(text);
      const response = await post("/transaction", body);
      expect(response.status).toBe(422);
      const error = (await response.json()) as { errors: { field: string }[] };
      expect(error.errors.map((e) => e.field)).toEqual([field]);
    }
    const batch = `[${exact},${exact.replace(/"amount":[^,]+/, '"amount":9839.6400000000000001')}]`;
    const refused = await post("/transactions", batch);
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe("[1].amount");
    expect(await totalEnd()).toBe(before);
  });

  test("numbers that keep their digits pass as before, where a long run of digits sends the body the careful way", async () => {
    const response = await post(
      "/transaction",
      JSON.stringify({ ...paysimRow, nameOrig: "C12345678901234567890" }).replace(/"amount":[^,]+/, '"amount":1.50e2'),
    );
    expect(response.status).toBe(202);
    const { transactionId } = (await response.json()) as { transactionId: string };
    const decoded = decodeMessage((await readFromTopic([transactionId])).get(transactionId)?.value);
    expect(decoded.ok && decoded.value.amount).toBe("150.00");
    expect(decoded.ok && decoded.value.nameOrig).toBe("C12345678901234567890");
  });

  test("two Idempotency-Key headers: 400, nothing produced (they arrive joined by a comma)", async () => {
    const before = await totalEnd();
    const twice = await rawPost(
      "/transaction",
      [
        ["Idempotency-Key", "order-1"],
        ["Idempotency-Key", "order-2"],
      ],
      JSON.stringify(paysimRow),
    );
    expect(twice.status).toBe(400);
    expect(twice.body.message).toMatch(/^idempotency-key: must be sent once/);
    const once = await rawPost(
      "/transaction",
      [["Idempotency-Key", `order-${crypto.randomUUID()}`]],
      JSON.stringify(paysimRow),
    );
    expect(once.status).toBe(202);
    expect(await totalEnd()).toBe(before + 1n);
  });
});

describe("POST /transactions", () => {
  test("all valid: 202 with one id per element, in order, all on the topic", async () => {
    const rows = Array.from({ length: 50 }, (_, i) => ({ ...paysimRow, nameOrig: `C${1000 + i}`, amount: `${i}.05` }));
    const response = await post("/transactions", rows);
    expect(response.status).toBe(202);
    const { transactionIds } = (await response.json()) as { transactionIds: string[] };
    expect(transactionIds.length).toBe(50);
    expect(new Set(transactionIds).size).toBe(50);
    const found = await readFromTopic(transactionIds);
    transactionIds.forEach((id, i) => {
      const decoded = decodeMessage(found.get(id)?.value);
      expect(decoded.ok && decoded.value.amount).toBe(`${i}.05`);
    });
  });

  test("one bad element: 422 naming its index and field, and none of the batch is produced", async () => {
    const before = await totalEnd();
    const rows = Array.from({ length: 20 }, () => ({ ...paysimRow }));
    rows[13] = { ...paysimRow, amount: -5 };
    const response = await post("/transactions", rows);
    expect(response.status).toBe(422);
    const error = (await response.json()) as { errors: { field: string }[] };
    expect(error.errors.map((e) => e.field)).toEqual(["[13].amount"]);
    expect(await totalEnd()).toBe(before);
  });

  test("empty and oversized batches are refused with the limit named", async () => {
    const empty = await post("/transactions", []);
    expect(empty.status).toBe(422);
    expect(((await empty.json()) as { message: string }).message).toMatch(/must hold 1 to 10000 transactions/);
    const tooMany = await post(
      "/transactions",
      Array.from({ length: config.requestTransactionsMax + 1 }, () => paysimRow),
    );
    expect(tooMany.status).toBe(422);
  });

  test("10,000 rows from one account, more than one produce request may hold: 202, every row stored in order", async () => {
    const account = `C${Date.now()}`;
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ ...paysimRow, nameOrig: account, amount: `${i}.01` }));
    const requestsBefore = api.batcher.requestsSent;
    const response = await post("/transactions", rows);
    expect(response.status).toBe(202);
    const { transactionIds } = (await response.json()) as { transactionIds: string[] };
    expect(transactionIds.length).toBe(10_000);
    // One account, one partition: the split is by bytes, not by partition.
    expect(api.batcher.requestsSent - requestsBefore).toBeGreaterThan(1);

    const db = await freshDatabase("api_large_batch");
    const worker = await startWorker(
      testConfig({ ...topics, groupId: `${topics.groupId}-large`, databaseUrl: db.url }),
      { log: silentLog },
    );
    try {
      const stored = await eventually(
        async () => {
          const found =
            await db.sql`SELECT transaction_id FROM transactions WHERE name_orig = ${account} ORDER BY kafka_offset`;
          return found.length === rows.length ? found.map((row) => row.transaction_id as string) : undefined;
        },
        60_000,
        "the batch stored",
      );
      expect(stored).toEqual(transactionIds);
    } finally {
      await worker.stop();
      await db.drop();
    }
  }, 120_000);

  test("an Idempotency-Key gives element i the id of key:i", async () => {
    const key = `batch-${crypto.randomUUID()}`;
    const response = await post("/transactions", [paysimRow, paysimRow], { "idempotency-key": key });
    const { transactionIds } = (await response.json()) as { transactionIds: string[] };
    expect(transactionIds).toEqual([transactionIdForBatchElement(key, 0), transactionIdForBatchElement(key, 1)]);
  });
});

/**
 * An app whose real producer talks to `brokers` (none that works), one
 * request in flight at most, and a helper that POSTs one PaySim row to it.
 */
function appWithBrokers(brokers: string[], acceptTimeoutMs: number, producerTimeoutMs: number) {
  const badConfig = testConfig({ ...topics, kafkaBrokers: brokers, acceptTimeoutMs });
  const producer = createProducer({ brokers, clientId: "unreachable", timeoutMs: producerTimeoutMs });
  const batcher = new ProduceBatcher({
    send: (messages) => produce(producer, messages),
    lingerMs: 1,
    batchMessagesMax: 10,
    requestBytesMax: produceRecordBytesMax(badConfig.messageBytesMax),
    inFlightMax: 1,
    queuedMessagesMax: 100,
    acceptTimeoutMs,
  });
  const sql = openDatabase(badConfig.databaseUrl, { poolMax: 1 });
  const app = createApp({
    config: badConfig,
    sql,
    batcher,
    shutdown: { requested: false },
    kafkaAnswers: async () => false,
  });
  const postRow = () =>
    app.handle(
      new Request("http://txlog/transaction", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(paysimRow),
      }),
    );
  const close = async () => {
    await sql.end();
    await producer.close(true).catch(() => {});
  };
  return { app, batcher, postRow, close };
}

test("when Kafka cannot take the write in time: 503 with Retry-After, never 202", async () => {
  // A real producer pointed at a port where no broker listens.
  const { app, postRow, close } = appWithBrokers(["127.0.0.1:1"], 500, 300);
  const response = await postRow();
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBe("1");
  expect(((await response.json()) as { message: string }).message).toMatch(/retry with the same Idempotency-Key/);

  const health = await app.handle(new Request("http://txlog/ready"));
  expect(health.status).toBe(503);
  expect(((await health.json()) as { message: string }).message).toBe("Kafka not answering");
  await close();
}, 30_000);

test("every 503 of a batch lists its ids, to retry with the same Idempotency-Key or look each up", async () => {
  const { app, close } = appWithBrokers(["127.0.0.1:1"], 500, 300);
  const key = `batch-${crypto.randomUUID()}`;
  const response = await app.handle(
    new Request("http://txlog/transactions", {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify([paysimRow, paysimRow, paysimRow]),
    }),
  );
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBe("1");
  const body = (await response.json()) as { error: string; message: string; transactionIds: string[] };
  expect(body.error).toBe("kafka_unavailable");
  expect(body.transactionIds).toEqual([0, 1, 2].map((i) => transactionIdForBatchElement(key, i)));
  expect(body.message).toMatch(/retry/);
  await close();
}, 30_000);

test("a broker that takes the connection and never answers: the POST in flight may be written, the one queued behind it is withdrawn", async () => {
  // A real TCP peer that accepts and stays silent, as a hung broker does.
  const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { batcher, postRow, close } = appWithBrokers([`127.0.0.1:${silent.port}`], 300, 5_000);
  const inFlight = postRow();
  await Bun.sleep(20);
  const queued = postRow();
  const answers = await Promise.all([inFlight, queued]);
  expect(answers.map((answer) => answer.status)).toEqual([503, 503]);
  const [inFlightBody, queuedBody] = (await Promise.all(answers.map((answer) => answer.json()))) as {
    error: string;
    message: string;
  }[];
  expect(inFlightBody?.message).toMatch(/may or may not be accepted: retry with the same Idempotency-Key/);
  expect(queuedBody).toEqual({
    error: "kafka_unavailable",
    message: "Kafka could not take the write within 300 ms; nothing was accepted, retry later",
  });
  expect(batcher.requestsSent).toBe(1);
  await close();
  silent.stop(true);
}, 30_000);

test("GET /ready: 200 when Kafka and PostgreSQL answer; GET /health: alive", async () => {
  const response = await fetch(`${api.url}/ready`);
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ status: "ok", kafka: "up", postgres: "up" });
  expect(await (await fetch(`${api.url}/health`)).json()).toEqual({ status: "alive" });
});

test("Swagger UI and the OpenAPI document list every route with its schema", async () => {
  const ui = await fetch(`${api.url}/swagger`);
  expect(ui.status).toBe(200);
  expect(await ui.text()).toContain("<html");
  const doc = (await (await fetch(`${api.url}/swagger/json`)).json()) as {
    paths: Record<string, Record<string, { requestBody?: unknown }>>;
  };
  for (const path of [
    "/transaction",
    "/transactions",
    "/transactions/{id}",
    "/reports",
    "/reports/summary",
    "/health",
    "/ready",
  ]) {
    expect(Object.keys(doc.paths)).toContain(path);
  }
  for (const path of ["/transaction", "/transactions"]) {
    const post = doc.paths[path]?.post as { requestBody?: unknown; parameters?: { in: string; name: string }[] };
    expect(JSON.stringify(post.requestBody)).toContain("nameOrig");
    expect(post.parameters?.some((p) => p.in === "header" && p.name === "Idempotency-Key")).toBe(true);
  }
  expect(JSON.stringify(doc.paths["/transactions"]?.post?.requestBody)).toContain('"type":"array"');
});

test("`bun run api` with no broker answering exits 1 and names the broker", async () => {
  const child = Bun.spawn(["bun", "run", "src/api.ts"], {
    env: { ...process.env, KAFKA_BROKERS: "127.0.0.1:1", KAFKA_TIMEOUT_MS: "500", PORT: "65000" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = await new Response(child.stderr).text();
  expect(await child.exited).toBe(1);
  expect(stderr).toContain("txlog API could not start (Kafka 127.0.0.1:1");
}, 60_000);
