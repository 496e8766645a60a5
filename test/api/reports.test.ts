// GET /reports refuses what no page could ask for with 400, before PostgreSQL
// sees it. The app answers in-process (app.handle): no listener, no Kafka.
import { afterAll, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import { ProduceBatcher } from "../../src/api/produce-batcher.ts";
import { encodeCursor } from "../../src/api/reads.ts";
import { openDatabase } from "../../src/postgres/connection.ts";
import { testConfig } from "../support/run.ts";

const config = testConfig();
const sql = openDatabase(config.databaseUrl, { poolMax: 1 });
afterAll(() => sql.end());

const app = createApp({
  config,
  sql,
  // Reports never produce.
  batcher: new ProduceBatcher({
    send: async () => {},
    lingerMs: 1,
    batchMessagesMax: 1,
    requestBytesMax: 1024,
    inFlightMax: 1,
    queuedMessagesMax: 1,
    acceptTimeoutMs: 1000,
  }),
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
