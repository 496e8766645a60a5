// GET /health: 200 when Kafka and PostgreSQL both answer, 503 naming what does not.
import { Elysia } from "elysia";
import type { Sql } from "../../postgres/connection.ts";
import { withTimeout } from "../../runtime/timeout.ts";
import { Health } from "../models.ts";

/** Longest wait for each dependency in GET /health, milliseconds. */
export const healthCheckTimeoutMs = 2000;

export interface HealthDeps {
  sql: Sql;
  kafkaAnswers(): Promise<boolean>;
}

export function healthRoutes({ sql, kafkaAnswers }: HealthDeps) {
  return new Elysia({ name: "health", normalize: false }).get(
    "/health",
    async ({ status }) => {
      const [kafka, postgres] = await Promise.all([
        withTimeout(kafkaAnswers(), healthCheckTimeoutMs, "kafka").catch(() => false),
        withTimeout(sql`SELECT 1`, healthCheckTimeoutMs, "postgres").then(
          () => true,
          () => false,
        ),
      ]);
      const down = [kafka ? [] : ["Kafka"], postgres ? [] : ["PostgreSQL"]].flat();
      const body = {
        status: down.length === 0 ? ("ok" as const) : ("unavailable" as const),
        kafka: kafka ? ("up" as const) : ("down" as const),
        postgres: postgres ? ("up" as const) : ("down" as const),
        ...(down.length > 0 ? { message: `${down.join(" and ")} not answering` } : {}),
      };
      return down.length === 0 ? body : status(503, body);
    },
    {
      response: { 200: Health, 503: Health },
      detail: { summary: "Liveness of Kafka and PostgreSQL", tags: ["health"] },
    },
  );
}
