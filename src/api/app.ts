// The HTTP edge: small route plugins composed into one app, the API's docs
// (src/api/swagger.ts), and one error shape for all.
import { Elysia } from "elysia";
import { kafkaConnection } from "../kafka/connection.ts";
import type { Sql } from "../postgres/connection.ts";
import { ApiKeyring } from "../runtime/api-keys.ts";
import type { Config } from "../runtime/config.ts";
import { Episode } from "../runtime/episodes.ts";
import { errorText } from "../runtime/error-text.ts";
import { roleLogger } from "../runtime/logger.ts";
import type { FieldError } from "../transaction/rules.ts";
import { Dashboard } from "./dashboard/data.ts";
import { invalid, RequestError } from "./errors.ts";
import { guardPlugin } from "./guard.ts";
import { checkContentLength } from "./json-body.ts";
import { ApiMetrics, metricsPlugin } from "./metrics.ts";
import type { ProduceBatcher } from "./produce-batcher.ts";
import { RateLimits } from "./rate-limit.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { dashboardPageRoutes } from "./routes/dashboard-page.ts";
import { healthRoutes } from "./routes/health.ts";
import { rejectionRoutes } from "./routes/rejections.ts";
import { reportRoutes } from "./routes/reports.ts";
import { transactionStatusRoutes } from "./routes/transaction-status.ts";
import { transactionRoutes } from "./routes/transactions.ts";
import { apiDocs, docsPath } from "./swagger.ts";

export interface ApiDeps {
  config: Config;
  /** Lookups on the write path (Idempotency-Key, a transaction's status) and /ready. */
  sql: Sql;
  /** Report reads: a small pool of their own (DATABASE_READ_POOL_MAX); `sql` when absent. */
  reads?: Sql;
  batcher: ProduceBatcher;
  /** Set when the process was asked to stop: new work is refused, /ready answers 503. */
  shutdown: { requested: boolean };
  kafkaAnswers(): Promise<boolean>;
  /** The dashboard's sources; made from config and sql when not given (its Kafka client opens on first use). */
  dashboard?: Dashboard;
  /** GET /metrics and the timing of every answer (default: a registry of its own). */
  metrics?: ApiMetrics;
  /** The API keys; default: those of config.apiKeys. */
  keyring?: ApiKeyring;
  /** Requests the server is answering now (Bun's count once it listens); default 0. */
  requestsInFlight?(): number;
}

export function createDashboard(config: Config, sql: Sql): Dashboard {
  return new Dashboard({
    sql,
    connection: kafkaConnection(config, "dashboard"),
    topic: config.topic,
    groupId: config.groupId,
    chartSeconds: config.dashboardChartSeconds,
  });
}

/**
 * Field errors for a value Elysia's validator refused (a query or a path
 * parameter), in our words. Bodies are checked by the routes themselves
 * (checkTransaction / checkBatch), which name every error.
 */
function describeValidation(error: {
  type: string;
  all: { path: string; summary?: string; schema?: unknown; message: string }[];
}): FieldError[] {
  return error.all.map((item) => {
    const field = item.path.replace(/^\//, "").replaceAll("/", ".") || `(${error.type})`;
    const custom = (item.schema as { error?: unknown } | undefined)?.error;
    return { field, rule: typeof custom === "string" ? custom : (item.summary ?? item.message).toLowerCase() };
  });
}

/**
 * PostgreSQL cannot be reached or is going down (connection errors, SQLSTATE
 * class 08, and 57P01–57P03): the read may pass later, so 503, not 500.
 */
function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return (
    code.startsWith("08") ||
    ["57P01", "57P02", "57P03"].includes(code) ||
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "CONNECTION_CLOSED",
      "CONNECTION_ENDED",
      "CONNECTION_DESTROYED",
      "CONNECT_TIMEOUT",
    ].includes(code)
  );
}

/** PostgreSQL cancelled the statement: statement_timeout (SQLSTATE 57014, query_canceled). */
function isReadTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "57014";
}

/** A RequestError, also one thrown while a body was parsed (Elysia wraps those in its ParseError). */
function requestErrorOf(error: unknown): RequestError | undefined {
  if (error instanceof RequestError) return error;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause instanceof RequestError ? cause : undefined;
}

export function createApp(deps: ApiDeps) {
  const dashboard = deps.dashboard ?? createDashboard(deps.config, deps.sql);
  const log = roleLogger("api");
  // A PostgreSQL outage answers every read with 503: one episode in the log, not a line per request.
  const reads = new Episode({ log, name: "database read", summaryMs: deps.config.logEpisodeSummaryMs });
  const keyring = deps.keyring ?? new ApiKeyring(deps.config.apiKeys);
  const guard = guardPlugin({
    keyring,
    rateLimits: new RateLimits(keyring.ids, {
      requestsPerS: deps.config.apiKeyRequestsPerS,
      burstRequests: deps.config.apiKeyBurstRequests,
    }),
    requestsInFlightMax: deps.config.requestsInFlightMax,
    requestsInFlight: deps.requestsInFlight ?? (() => 0),
  });
  // normalize: false — unknown fields are refused, never silently dropped.
  return (
    new Elysia({ name: "txlog", normalize: false })
      .use(apiDocs(deps.config))
      .use(metricsPlugin(deps.metrics ?? new ApiMetrics()))
      // While stopping, every answer asks the client to close its connection,
      // so none is reused at the moment the listener closes (a reset then).
      // A body over BODY_BYTES_MAX is refused before it is read.
      .onRequest(({ request, set }) => {
        if (deps.shutdown.requested) set.headers.connection = "close";
        checkContentLength(request, deps.config.bodyBytesMax);
      })
      .onError(({ code, error, set, path }) => {
        const requestError = requestErrorOf(error);
        if (requestError !== undefined) {
          set.status = requestError.status;
          return requestError.body;
        }
        if (code === "VALIDATION") {
          const errors = describeValidation(error as never);
          const where = (error as { type: string }).type;
          set.status = where === "body" ? 422 : 400;
          return invalid(
            errors,
            where === "body" ? "invalid_transaction" : `invalid_${where === "params" ? "path" : where}`,
          );
        }
        if (code === "PARSE" || error instanceof SyntaxError) {
          set.status = 400;
          return { error: "malformed_body", message: "(body): must be valid JSON with Content-Type: application/json" };
        }
        if (isReadTimeout(error)) {
          set.status = 503;
          set.headers["retry-after"] = "1";
          return {
            error: "read_timeout",
            message: `the read ran longer than READ_STATEMENT_TIMEOUT_MS (${deps.config.readStatementTimeoutMs} ms) and was cancelled; narrow it (filters, limit) or retry later`,
          };
        }
        if (isDatabaseUnavailable(error)) {
          reads.failed(errorText(error));
          set.status = 503;
          set.headers["retry-after"] = "1";
          return { error: "database_unavailable", message: "PostgreSQL does not answer; retry later" };
        }
        if (code === "NOT_FOUND") {
          set.status = 404;
          return { error: "not_found", message: `no route ${path}${deps.config.apiDocs ? `; see ${docsPath}` : ""}` };
        }
        log.error({ err: error, path }, "internal error");
        set.status = 500;
        return { error: "internal", message: "internal error; nothing was accepted by this request" };
      })
      // Reads are GETs; one answered below 500 while an episode runs says PostgreSQL is back.
      .onAfterResponse(({ request, set }) => {
        if (reads.active && request.method === "GET" && Number(set.status ?? 200) < 500) reads.succeeded();
      })
      .use(transactionRoutes({ ...deps, guard, ingest: dashboard.ingest }))
      .use(transactionStatusRoutes(deps.sql, guard))
      .use(reportRoutes(deps.reads ?? deps.sql, guard))
      .use(rejectionRoutes(deps.reads ?? deps.sql, guard))
      .use(healthRoutes({ sql: deps.sql, kafkaAnswers: deps.kafkaAnswers, shutdown: deps.shutdown }))
      .use(dashboardPageRoutes())
      .use(dashboardRoutes(dashboard, guard))
  );
}

export type App = ReturnType<typeof createApp>;
