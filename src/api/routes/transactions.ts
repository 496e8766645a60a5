// POST /transaction, POST /transactions, GET /transactions/:id.
// A 202 is answered only after Kafka acknowledged the write (acks=all).
import { Elysia, type TSchema, t } from "elysia";
import type { Sql } from "../../postgres/connection.ts";
import type { Config } from "../../runtime/config.ts";
import { newTransactionId, transactionIdForBatchElement, transactionIdForKey } from "../../transaction/ids.ts";
import {
  type AcceptedTransaction,
  checkBatch,
  checkTransaction,
  type Transaction,
  TransactionInput,
} from "../../transaction/rules.ts";
import type { IngestRate } from "../dashboard/rates.ts";
import { invalid, RequestError } from "../errors.ts";
import type { Guard } from "../guard.ts";
import { handOver, type Outcome } from "../hand-over.ts";
import { refuseKeyReuse } from "../idempotency.ts";
import { readRequestBody } from "../json-body.ts";
import {
  Accepted,
  AcceptedBatch,
  BatchUnavailable,
  ErrorBody,
  IdempotencyKey,
  idempotencyKeyOnceRule,
  idempotencyKeyPattern,
  idempotencyKeyRule,
  idempotencyKeySeparator,
} from "../models.ts";
import type { ProduceBatcher } from "../produce-batcher.ts";

export interface TransactionRoutesDeps {
  config: Config;
  sql: Sql;
  batcher: ProduceBatcher;
  shutdown: { requested: boolean };
  /** Counts accepted transactions per second for the dashboard. */
  ingest?: IngestRate;
  guard: Guard;
}

const shuttingDown = {
  error: "shutting_down",
  message:
    "this API instance is stopping and takes no new transactions; nothing was accepted, retry (another instance)",
};
const shuttingDownOutcome: Outcome = { ok: false, status: 503, body: shuttingDown };

/**
 * The Idempotency-Key header, checked here rather than by an Elysia headers
 * schema: a schema makes Elysia copy every header of every request into an
 * object first.
 */
function idempotencyKey(request: Request): string | undefined {
  const key = request.headers.get("idempotency-key");
  if (key === null) return undefined;
  if (!idempotencyKeyPattern.test(key)) {
    throw new RequestError(400, invalid([{ field: "idempotency-key", rule: idempotencyKeyRule }], "invalid_headers"));
  }
  if (key.includes(idempotencyKeySeparator)) {
    throw new RequestError(
      400,
      invalid([{ field: "idempotency-key", rule: idempotencyKeyOnceRule }], "invalid_headers"),
    );
  }
  return key;
}

/**
 * OpenAPI for a POST body and the Idempotency-Key header. The POST routes
 * declare no Elysia body schema: checkTransaction / checkBatch validate every
 * field and name each error, so Elysia's own pass (a check and a decode per
 * element) was the same work done twice on the hot path.
 */
function postDocs(body: TSchema) {
  return {
    requestBody: { required: true, content: { "application/json": { schema: body } } },
    parameters: [{ in: "header", name: "Idempotency-Key", required: false, schema: IdempotencyKey }],
  } as Record<string, unknown>;
}

function accepted(
  transaction: Transaction,
  transactionId: string,
  acceptedAt: string,
  apiKeyId: string | undefined,
): AcceptedTransaction {
  return apiKeyId === undefined
    ? { transactionId, acceptedAt, ...transaction }
    : { transactionId, acceptedAt, ...transaction, apiKeyId };
}

export function transactionRoutes({ config, sql, batcher, shutdown, guard, ingest }: TransactionRoutesDeps) {
  // Bodies are read by readRequestBody once the guard let the request in
  // (parse: "none"): at most BODY_BYTES_MAX, numbers judged by the digits
  // sent; a body of another type is text, refused as no JSON.
  const parse = "none" as const;
  return new Elysia({ name: "transactions", normalize: false })
    .use(guard)
    .post(
      "/transaction",
      async ({ request, set, status, apiKeyId }) => {
        if (shutdown.requested) {
          set.headers["retry-after"] = "1";
          return status(503, shuttingDown);
        }
        const key = idempotencyKey(request);
        const checked = checkTransaction(await readRequestBody(request, config.bodyBytesMax));
        if (!checked.ok) throw new RequestError(422, invalid(checked.errors));
        const transactionId = key === undefined ? newTransactionId() : transactionIdForKey(key, apiKeyId);
        if (key !== undefined) await refuseKeyReuse(sql, key, [transactionId], [checked.value]);
        const outcome = await handOver(config, batcher, [
          accepted(checked.value, transactionId, new Date().toISOString(), apiKeyId),
        ]);
        if (!outcome.ok) {
          set.headers["retry-after"] = "1";
          return status(503, outcome.body);
        }
        ingest?.record(1);
        set.headers.location = `/transactions/${transactionId}`;
        return status(202, { transactionId, status: "pending" as const });
      },
      {
        parse,
        scope: "write",
        response: { 202: Accepted, 400: ErrorBody, 409: ErrorBody, 413: ErrorBody, 422: ErrorBody, 503: ErrorBody },
        detail: {
          ...postDocs(TransactionInput),
          summary: "Log one transaction",
          description:
            "Validates the transaction and hands it to Kafka. 202 means Kafka has it on disk (acks=all); the worker then stores it and GET /transactions/{id} shows it Completed. 503 with Retry-After when Kafka cannot take it in time.",
          tags: ["transactions"],
        },
      },
    )
    .post(
      "/transactions",
      async ({ request, set, status, apiKeyId }) => {
        const key = idempotencyKey(request);
        const checked = checkBatch(await readRequestBody(request, config.bodyBytesMax), config.requestTransactionsMax);
        if (!checked.ok) throw new RequestError(422, invalid(checked.errors));
        const acceptedAt = new Date().toISOString();
        const transactions = checked.value.map((transaction, index) => {
          const id = key === undefined ? newTransactionId() : transactionIdForBatchElement(key, index, apiKeyId);
          return accepted(transaction, id, acceptedAt, apiKeyId);
        });
        if (key !== undefined) {
          await refuseKeyReuse(
            sql,
            key,
            transactions.map((tx) => tx.transactionId),
            checked.value,
          );
        }
        const transactionIds = transactions.map((tx) => tx.transactionId);
        // Checked after the ids are known: every 503 of a batch lists them.
        const outcome = shutdown.requested ? shuttingDownOutcome : await handOver(config, batcher, transactions);
        if (!outcome.ok) {
          set.headers["retry-after"] = "1";
          return status(503, { error: outcome.body.error, message: outcome.body.message, transactionIds });
        }
        ingest?.record(transactionIds.length);
        return status(202, { transactionIds, status: "pending" as const });
      },
      {
        parse,
        scope: "write",
        response: {
          202: AcceptedBatch,
          400: ErrorBody,
          409: ErrorBody,
          413: ErrorBody,
          422: ErrorBody,
          503: BatchUnavailable,
        },
        detail: {
          ...postDocs(t.Array(TransactionInput, { minItems: 1, maxItems: config.requestTransactionsMax })),
          summary: `Log up to ${config.requestTransactionsMax} transactions, all valid or none accepted`,
          description:
            "Every element must be valid or none is accepted. 202 lists the ids in order, once Kafka acknowledged every one. A batch larger than a produce request may hold (KAFKA_MESSAGE_BYTES_MAX) goes in several, so a 503 may come after some of it was written: it lists every id (transactionIds), and a retry with the same Idempotency-Key writes no second row of those. With Idempotency-Key K, element i gets an id derived from (K, i) in a namespace of its own; a key already used for other transactions answers 409.",
          tags: ["transactions"],
        },
      },
    );
}
