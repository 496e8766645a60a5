// GET /health: 200 when Kafka and PostgreSQL both answer, 503 naming what does not.
// GET /ready: the same, and 503 once the process is stopping (take it out of rotation).
import { Elysia } from "elysia";
import type { Sql } from "../../postgres/connection.ts";
import { withTimeout } from "../../runtime/timeout.ts";
import { Health } from "../models.ts";

/** Longest wait for each dependency in GET /health, milliseconds. */
export const healthCheckTimeoutMs = 2000;

export interface HealthDeps {
  sql: Sql;
  kafkaAnswers(): Promise<boolean>;
  shutdown: { requested: boolean };
}

/** Kafka and PostgreSQL checked at once, each bounded by healthCheckTimeoutMs. */
async function dependencies(deps: HealthDeps) {
  const [kafka, postgres] = await Promise.all([
    withTimeout(deps.kafkaAnswers(), healthCheckTimeoutMs, "kafka").catch(() => false),
    withTimeout(deps.sql`SELECT 1`, healthCheckTimeoutMs, "postgres").then(
      () => true,
      () => false,
    ),
  ]);
  const problems = [kafka ? [] : ["Kafka not answering"], postgres ? [] : ["PostgreSQL not answering"]].flat();
  return { kafka, postgres, problems };
}

function healthBody(kafka: boolean, postgres: boolean, problems: string[]) {
  return {
    status: problems.length === 0 ? ("ok" as const) : ("unavailable" as const),
    kafka: kafka ? ("up" as const) : ("down" as const),
    postgres: postgres ? ("up" as const) : ("down" as const),
    ...(problems.length > 0 ? { message: problems.join("; ") } : {}),
  };
}

export function healthRoutes(deps: HealthDeps) {
  return new Elysia({ name: "health", normalize: false })
    .get(
      "/health",
      async ({ status }) => {
        const { kafka, postgres, problems } = await dependencies(deps);
        const body = healthBody(kafka, postgres, problems);
        return problems.length === 0 ? body : status(503, body);
      },
      {
        response: { 200: Health, 503: Health },
        detail: { summary: "Kafka and PostgreSQL answer", tags: ["health"] },
      },
    )
    .get(
      "/ready",
      async ({ status }) => {
        if (deps.shutdown.requested) return status(503, healthBody(true, true, ["shutting down"]));
        const { kafka, postgres, problems } = await dependencies(deps);
        const body = healthBody(kafka, postgres, problems);
        return problems.length === 0 ? body : status(503, body);
      },
      {
        response: { 200: Health, 503: Health },
        detail: {
          summary: "Ready for traffic: Kafka and PostgreSQL answer and the API is not stopping",
          tags: ["health"],
        },
      },
    );
}
