// The HTTP ceiling of the benchmark: the same two POST routes as the API,
// answering 202 with fresh ids at once, with no validation and no Kafka behind
// them. The body is still parsed, as any real route must. Started by
// bench/paysim.ts as a child process: `PORT=N bun run bench/bare-api.ts`.
import { Elysia } from "elysia";
import { newTransactionId } from "../src/transaction/ids.ts";

const port = Number(process.env.PORT ?? 8001);

const app = new Elysia({ normalize: false })
  .get("/health", () => ({ status: "ok" }))
  .post("/transaction", ({ body, status }) => {
    if (typeof body !== "object" || body === null) return status(400, { error: "malformed_body" });
    return status(202, { transactionId: newTransactionId(), status: "pending" as const });
  })
  .post("/transactions", ({ body, status }) => {
    if (!Array.isArray(body)) return status(400, { error: "malformed_body" });
    return status(202, { transactionIds: body.map(() => newTransactionId()), status: "pending" as const });
  })
  .listen({ hostname: "127.0.0.1", port, maxRequestBodySize: 64 * 1024 * 1024 });

console.log(`bare Elysia listening on ${app.server?.port}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await app.stop();
    process.exit(0);
  });
}
