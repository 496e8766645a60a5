// GET /health: the process is alive (no dependency is asked: that is /ready's
// job, and a liveness probe that fails with PostgreSQL would restart a
// healthy API for nothing).
// GET /ready: 200 when Kafka and PostgreSQL answer, 503 naming what does not,
// and 503 once the process is stopping (take it out of rotation). Its answer
// is reused for readyCacheMs and probes arriving meanwhile share one check,
// on connections the API already holds: a flood of probes costs nothing.
import { Elysia } from "elysia";
import type { Sql } from "../../postgres/connection.ts";
import { withTimeout } from "../../runtime/timeout.ts";
import { Alive, Health } from "../models.ts";

/** Longest wait for each dependency in GET /ready, milliseconds. */
export const healthCheckTimeoutMs = 2000;
/** How long GET /ready reuses its last check, milliseconds. */
export const readyCacheMs = 1000;

export interface HealthDeps {
  sql: Sql;
  kafkaAnswers(): Promise<boolean>;
  shutdown: { requested: boolean };
}

interface Dependencies {
  kafka: boolean;
  postgres: boolean;
  problems: string[];
}

/** Kafka and PostgreSQL checked at once, each bounded by healthCheckTimeoutMs. */
async function dependencies(deps: HealthDeps): Promise<Dependencies> {
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

/** dependencies(), at most once per readyCacheMs; callers in between share the check in hand or its answer. */
export function cachedDependencies(deps: HealthDeps, cacheMs = readyCacheMs): () => Promise<Dependencies> {
  let last: { at: number; answer: Promise<Dependencies> } | undefined;
  return () => {
    const now = performance.now();
    if (last === undefined || now - last.at >= cacheMs) last = { at: now, answer: dependencies(deps) };
    return last.answer;
  };
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
  const check = cachedDependencies(deps);
  return new Elysia({ name: "health", normalize: false })
    .get("/health", () => ({ status: "alive" as const }), {
      response: { 200: Alive },
      detail: { summary: "The process is alive (no dependency checked: see /ready)", tags: ["health"] },
    })
    .get(
      "/ready",
      async ({ status }) => {
        if (deps.shutdown.requested) return status(503, healthBody(true, true, ["shutting down"]));
        const { kafka, postgres, problems } = await check();
        const body = healthBody(kafka, postgres, problems);
        return problems.length === 0 ? body : status(503, body);
      },
      {
        response: { 200: Health, 503: Health },
        detail: {
          summary: `Ready for traffic: Kafka and PostgreSQL answer and the API is not stopping (checked at most once per ${readyCacheMs} ms)`,
          tags: ["health"],
        },
      },
    );
}
