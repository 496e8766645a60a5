// GET /rejections: the accepted transactions the worker could never write,
// with why, newest first.

import { Elysia } from "elysia";
import type { Sql } from "../../postgres/connection.ts";
import { listRejections } from "../../postgres/rejections.ts";
import { RequestError } from "../errors.ts";
import type { Guard } from "../guard.ts";
import { ErrorBody, RejectionPage, RejectionQuery, reportPageDefault, reportPageMax } from "../models.ts";
import { decodeCursor, encodeCursor } from "../reads.ts";
import { whole } from "./reports.ts";

export function rejectionRoutes(sql: Sql, guard: Guard) {
  return new Elysia({ name: "rejections", normalize: false }).use(guard).get(
    "/rejections",
    async ({ query }) => {
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (query.cursor !== undefined && after === undefined) {
        const rule = "must be a nextCursor value from a previous page";
        throw new RequestError(400, {
          error: "invalid_query",
          message: `cursor: ${rule}`,
          errors: [{ field: "cursor", rule }],
        });
      }
      const limit = whole("limit", query.limit, 1, reportPageMax) ?? reportPageDefault;
      const cursor =
        after === undefined ? undefined : { rejectedAt: after.acceptedAt, transactionId: after.transactionId };
      const page = await listRejections(sql, query.reason, limit, cursor);
      return {
        rejections: page.rejections,
        nextCursor:
          page.more && page.last
            ? encodeCursor({ acceptedAt: page.last.rejectedAt, transactionId: page.last.transactionId })
            : null,
      };
    },
    {
      scope: "read",
      query: RejectionQuery,
      response: { 200: RejectionPage, 400: ErrorBody, 422: ErrorBody },
      detail: {
        summary: "Rejected transactions, newest first",
        description:
          "Keyset pagination: pass nextCursor back as cursor; reason filters (invalid_message, database_refused).",
        tags: ["reports"],
      },
    },
  );
}
