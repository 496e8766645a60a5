// The API's request and response models, in one place: each schema is the
// validator, the TypeScript type and the OpenAPI document at once. The
// transaction itself is the domain's (src/transaction/rules.ts), the stored
// row PostgreSQL's (src/postgres/stored-row.ts); this file composes them.
import { t } from "elysia";
import { StoredTransaction } from "../postgres/stored-row.ts";
import { nameLengthMax, namePattern, stepMax, stepMin, transactionTypes } from "../transaction/rules.ts";

export { StoredTransaction };

/** One shape for every error body, so clients handle them alike. */
export const ErrorBody = t.Object(
  {
    error: t.String({ description: "machine-readable code", examples: ["invalid_transaction"] }),
    message: t.String({ description: "what is wrong, naming each field and its rule" }),
    errors: t.Optional(t.Array(t.Object({ field: t.String(), rule: t.String() }))),
  },
  { description: "an error; nothing was changed" },
);
export type ErrorBody = typeof ErrorBody.static;

export const idempotencyKeyLengthMax = 255;
export const idempotencyKeyRule = `must be 1 to ${idempotencyKeyLengthMax} printable ASCII characters`;
export const idempotencyKeyPattern = new RegExp(`^[\\x20-\\x7E]{1,${idempotencyKeyLengthMax}}$`);
/**
 * A request with two Idempotency-Key headers reaches the route as one value,
 * the two joined by ", " (the Fetch rules for repeated headers), so a key
 * holding ", " cannot be told from two keys: both are refused.
 */
export const idempotencyKeySeparator = ", ";
export const idempotencyKeyOnceRule =
  'must be sent once, and hold no ", " (two Idempotency-Key headers arrive joined by ", ")';

/** For OpenAPI only: the routes check the header with idempotencyKeyPattern. */
export const IdempotencyKey = t.String({
  minLength: 1,
  maxLength: idempotencyKeyLengthMax,
  pattern: idempotencyKeyPattern.source,
  description:
    "client-chosen key: the same key always yields the same transactionId, so a retried request cannot create a second row",
});

export const Accepted = t.Object({
  transactionId: t.String({ format: "uuid", examples: ["0193a8e2-7c41-7b2e-9d0a-3f5c2e1b4a77"] }),
  status: t.Literal("pending"),
});

export const AcceptedBatch = t.Object({
  transactionIds: t.Array(t.String({ format: "uuid" })),
  status: t.Literal("pending"),
});

/** A batch's 503: some of it may be written, so every id is listed to retry with or look up. */
export const BatchUnavailable = t.Object(
  {
    error: t.String({ examples: ["kafka_unavailable"] }),
    message: t.String({ description: "whether nothing, or possibly some, of the batch was accepted" }),
    transactionIds: t.Array(t.String({ format: "uuid" }), {
      description:
        "the id each element has (or would have had), in order: GET /transactions/{id} shows those stored; a retry with the same Idempotency-Key gives the same ids",
    }),
  },
  { description: "the batch was not (or not wholly) accepted; retry with the same Idempotency-Key" },
);

export const TransactionIdParams = t.Object({
  id: t.String({ format: "uuid", description: "transactionId from the 202", error: "must be a UUID" }),
});

export const reportPageDefault = 100;
export const reportPageMax = 1000;

const QueryFlag = t.Union([t.Literal("0"), t.Literal("1"), t.Literal("true"), t.Literal("false")], {
  error: "must be 0, 1, true or false",
});

// Whole numbers in the query are checked by the route rather than with
// t.Numeric, whose range errors do not say which parameter broke them.
const WholeNumber = (description: string) => t.String({ pattern: "^[0-9]{1,9}$", description });

export const ReportQuery = t.Object({
  limit: t.Optional(WholeNumber(`rows per page, 1 to ${reportPageMax}, default ${reportPageDefault}`)),
  cursor: t.Optional(t.String({ maxLength: 200, description: "nextCursor of the previous page" })),
  type: t.Optional(
    t.Union(
      transactionTypes.map((type) => t.Literal(type)),
      { error: `must be one of ${transactionTypes.join(", ")}` },
    ),
  ),
  // An account name's own rule: a control character (a NUL) could never
  // match one, and PostgreSQL refuses it in a query.
  account: t.Optional(
    t.String({
      minLength: 1,
      maxLength: nameLengthMax,
      pattern: namePattern,
      description: "matches nameOrig or nameDest",
      error: `must be 1 to ${nameLengthMax} printable ASCII characters without spaces`,
    }),
  ),
  isFraud: t.Optional(QueryFlag),
  stepMin: t.Optional(WholeNumber(`lowest step, inclusive (${stepMin} to ${stepMax})`)),
  stepMax: t.Optional(WholeNumber(`highest step, inclusive (${stepMin} to ${stepMax})`)),
});

export const ReportPage = t.Object({
  transactions: t.Array(StoredTransaction),
  nextCursor: t.Union([t.String(), t.Null()]),
});

export const ReportSummary = t.Object({
  count: t.Integer(),
  totalAmount: t.String({ description: "exact decimal" }),
  fraudCount: t.Integer(),
  flaggedFraudCount: t.Integer(),
  byType: t.Array(
    t.Object({
      type: t.String(),
      count: t.Integer(),
      totalAmount: t.String(),
      fraudCount: t.Integer(),
      flaggedFraudCount: t.Integer(),
    }),
  ),
});

export const RejectedTransaction = t.Object({
  transactionId: t.String({ format: "uuid" }),
  status: t.Literal("Rejected"),
  reason: t.String({ description: "invalid_message or database_refused", examples: ["invalid_message"] }),
  message: t.String({ description: "why, naming each field and rule, or PostgreSQL's error" }),
  errors: t.Array(t.Object({ field: t.String(), rule: t.String() })),
  rejectedAt: t.String({ format: "date-time" }),
  apiKeyId: t.Union([t.String(), t.Null()], {
    description:
      "id of the API key the transaction was sent with (never the secret); null without keys or when unreadable",
  }),
});

export const RejectionQuery = t.Object({
  limit: t.Optional(WholeNumber(`rejections per page, 1 to ${reportPageMax}, default ${reportPageDefault}`)),
  cursor: t.Optional(t.String({ maxLength: 200, description: "nextCursor of the previous page" })),
  reason: t.Optional(
    t.String({
      pattern: "^[a-z_]{1,64}$",
      description: "only this reason",
      error: "must be a reason code such as invalid_message",
    }),
  ),
});

export const RejectionPage = t.Object({
  rejections: t.Array(RejectedTransaction),
  nextCursor: t.Union([t.String(), t.Null()]),
});

const DependencyState = t.Union([t.Literal("up"), t.Literal("down")]);

export const Alive = t.Object({ status: t.Literal("alive") });

export const Health = t.Object({
  status: t.Union([t.Literal("ok"), t.Literal("unavailable")]),
  kafka: DependencyState,
  postgres: DependencyState,
  message: t.Optional(t.String()),
});
