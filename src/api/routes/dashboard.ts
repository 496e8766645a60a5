// GET /dashboard/data: everything the dashboard at / shows, in one answer.
// Each section says ok or why it could not be read, so the page shows what
// it can while PostgreSQL or Kafka is down. It shows the ledger, so it needs
// scope `read` once API keys are configured (the page then asks for a key).
import { Elysia } from "elysia";
import type { Dashboard } from "../dashboard/data.ts";
import type { Guard } from "../guard.ts";

export function dashboardRoutes(dashboard: Dashboard, guard: Guard) {
  return new Elysia({ name: "dashboard", normalize: false }).use(guard).get(
    "/dashboard/data",
    async ({ set }) => {
      set.headers["cache-control"] = "no-store";
      return dashboard.read();
    },
    {
      detail: {
        summary: "The dashboard's data: rates, consumer lag, summary, latest transactions and rejections",
        description:
          "Ingest rate: transactions this API process accepted per second. Commit rate: offsets the worker group committed per second (stored or rejected). Lag per partition: end offset minus the group's committed offset. Each section is {ok: true, ...} or {ok: false, error}.",
        tags: ["reports"],
      },
      scope: "read",
    },
  );
}
