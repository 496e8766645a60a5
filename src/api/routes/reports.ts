// GET /reports and GET /reports/summary: reads of the stored log.

import { Elysia } from "elysia";
import type { Sql } from "../../postgres/connection.ts";
import { stepMax, stepMin } from "../../transaction/rules.ts";
import { RequestError } from "../errors.ts";
import type { Guard } from "../guard.ts";
import { ErrorBody, ReportPage, ReportQuery, ReportSummary, reportPageDefault, reportPageMax } from "../models.ts";
import { decodeCursor, listTransactions, summarize } from "../reads.ts";

export function whole(field: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^[0-9]{1,9}$/.test(text) || value < min || value > max) {
    const rule = `must be an integer from ${min} to ${max}`;
    throw new RequestError(400, { error: "invalid_query", message: `${field}: ${rule}`, errors: [{ field, rule }] });
  }
  return value;
}

export function reportRoutes(sql: Sql, guard: Guard) {
  return new Elysia({ name: "reports", normalize: false })
    .use(guard)
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
        scope: "read",
        query: ReportQuery,
        response: {
          200: ReportPage,
          400: ErrorBody,
          422: ErrorBody,
          // read_timeout (READ_STATEMENT_TIMEOUT_MS) or database_unavailable, with Retry-After.
          503: ErrorBody,
        },
        detail: {
          summary: "Stored transactions, newest first",
          description: "Keyset pagination: pass nextCursor back as cursor. Filters combine with AND.",
          tags: ["reports"],
        },
      },
    )
    .get("/reports/summary", () => summarize(sql), {
      scope: "read",
      response: {
        200: ReportSummary,
        503: ErrorBody,
      },
      detail: {
        summary: "Count and total amount by type, fraud counts",
        description:
          "Read from an aggregate the worker keeps exact in each batch's transaction, not a scan of the log.",
        tags: ["reports"],
      },
    });
}
