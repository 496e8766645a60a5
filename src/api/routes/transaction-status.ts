// GET /transactions/:id: the final status of an accepted transaction.

import { Elysia, t } from "elysia";
import type { Sql } from "../../postgres/connection.ts";
import { findRejection } from "../../postgres/rejections.ts";
import type { Guard } from "../guard.ts";
import { ErrorBody, RejectedTransaction, StoredTransaction, TransactionIdParams } from "../models.ts";
import { findTransaction } from "../reads.ts";

export function transactionStatusRoutes(sql: Sql, guard: Guard) {
  return new Elysia({ name: "transaction-status", normalize: false }).use(guard).get(
    "/transactions/:id",
    async ({ params, status }) => {
      const stored = await findTransaction(sql, params.id);
      if (stored !== undefined) return stored;
      const rejected = await findRejection(sql, params.id);
      if (rejected !== undefined) return rejected;
      return status(404, {
        error: "not_found",
        message: `nothing is recorded for id ${params.id} yet; an accepted transaction appears here as Completed or Rejected once the worker has handled it`,
      });
    },
    {
      scope: "read",
      params: TransactionIdParams,
      response: { 200: t.Union([StoredTransaction, RejectedTransaction]), 404: ErrorBody, 422: ErrorBody },
      detail: {
        summary: "The final status of a transaction: Completed (the stored row) or Rejected (with the reason)",
        description: "404 only while the worker has recorded nothing for the id.",
        tags: ["transactions"],
      },
    },
  );
}
