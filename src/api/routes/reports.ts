// GET /reports and GET /reports/summary: reads of the stored log.
import { Elysia, t } from "elysia";
import type { Sql } from "../../postgres/connection.ts";
import { stepMax, stepMin, transactionTypes } from "../../transaction/rules.ts";
import { ErrorBody, RequestError } from "../errors.ts";
import { decodeCursor, listTransactions, summarize } from "../reads.ts";
import { StoredTransactionSchema } from "./transactions.ts";

export const reportPageDefault = 100;
export const reportPageMax = 1000;

const Flag = t.Union([t.Literal("0"), t.Literal("1"), t.Literal("true"), t.Literal("false")], {
  error: "must be 0, 1, true or false",
});
// Whole numbers in the query are checked here rather than with t.Numeric,
// whose range errors do not say which parameter broke them.
const WholeNumber = (description: string) => t.String({ pattern: "^[0-9]{1,9}$", description });

function whole(field: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^[0-9]{1,9}$/.test(text) || value < min || value > max) {
    const rule = `must be an integer from ${min} to ${max}`;
    throw new RequestError(400, { error: "invalid_query", message: `${field}: ${rule}`, errors: [{ field, rule }] });
  }
  return value;
}

export function reportRoutes(sql: Sql) {
  return new Elysia({ name: "reports", normalize: false })
    .get(
      "/reports",
      async ({ query }) => {
        const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
        if (query.cursor !== undefined && after === undefined) {
          throw new RequestError(400, {
            error: "invalid_query",
            message: "cursor: must be a nextCursor value from a previous page",
            errors: [{ field: "cursor", rule: "must be a nextCursor value from a previous page" }],
          });
        }
        const limit = whole("limit", query.limit, 1, reportPageMax) ?? reportPageDefault;
        return listTransactions(
          sql,
          {
            type: query.type,
            account: query.account,
            isFraud: query.isFraud === undefined ? undefined : query.isFraud === "1" || query.isFraud === "true",
            stepMin: whole("stepMin", query.stepMin, stepMin, stepMax),
            stepMax: whole("stepMax", query.stepMax, stepMin, stepMax),
          },
          limit,
          after,
        );
      },
      {
        query: t.Object({
          limit: t.Optional(WholeNumber(`rows per page, 1 to ${reportPageMax}, default ${reportPageDefault}`)),
          cursor: t.Optional(t.String({ maxLength: 200, description: "nextCursor of the previous page" })),
          type: t.Optional(
            t.Union(
              transactionTypes.map((type) => t.Literal(type)),
              { error: `must be one of ${transactionTypes.join(", ")}` },
            ),
          ),
          account: t.Optional(
            t.String({
              minLength: 1,
              maxLength: 64,
              description: "matches nameOrig or nameDest",
              error: "must be 1 to 64 characters",
            }),
          ),
          isFraud: t.Optional(Flag),
          stepMin: t.Optional(WholeNumber(`lowest step, inclusive (${stepMin} to ${stepMax})`)),
          stepMax: t.Optional(WholeNumber(`highest step, inclusive (${stepMin} to ${stepMax})`)),
        }),
        response: {
          200: t.Object({
            transactions: t.Array(StoredTransactionSchema),
            nextCursor: t.Union([t.String(), t.Null()]),
          }),
          400: ErrorBody,
          422: ErrorBody,
        },
        detail: {
          summary: "Stored transactions, newest first",
          description: "Keyset pagination: pass nextCursor back as cursor. Filters combine with AND.",
          tags: ["reports"],
        },
      },
    )
    .get("/reports/summary", () => summarize(sql), {
      response: {
        200: t.Object({
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
        }),
      },
      detail: { summary: "Count and total amount by type, fraud counts", tags: ["reports"] },
    });
}
