// The API's metrics (GET /metrics, Prometheus text): every answer by method,
// route template and status with its latency, the 503s by their error code,
// the produce requests (messages each, time to the broker's answer) and the
// produce queue. Route labels are templates (/transactions/:id), never raw
// paths, so a scan of random URLs cannot grow the series without bound.
import { Elysia, ElysiaCustomStatusResponse } from "elysia";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import {
  type HistogramSeries,
  latencySecondsBuckets,
  metricsResponse,
  processRegistry,
  SeriesHistogram,
} from "../runtime/metrics.ts";

/** Route label of a request no route matched (a 404, or refused before routing). */
export const unmatchedRoute = "unmatched";

/** Where a request's start time waits on its context: no per-request map to keep. */
const startedAtMs = Symbol("txlog.startedAtMs");

/** Methods given a label of their own; any other is "other" (a client picks the method, so the set must be closed). */
const knownMethods = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);

/** Messages per produce request: 1 to the largest PRODUCE_REQUEST_MESSAGES_MAX. */
const messagesBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000];

export class ApiMetrics {
  readonly registry: Registry = processRegistry();
  readonly #requestSeconds = new SeriesHistogram(
    "txlog_api_request_duration_seconds",
    "HTTP answers of the API by method, route template and status, and how long each took",
    ["method", "route", "status"],
    latencySecondsBuckets,
    this.registry,
  );
  /** Series by "method route status", each looked up once. */
  readonly #series = new Map<string, HistogramSeries>();
  readonly #unavailable = new Counter({
    name: "txlog_api_unavailable_total",
    help: "503 answers by cause: their error code (kafka_unavailable, overloaded, shutting_down, database_unavailable), not_ready for /health and /ready",
    labelNames: ["cause"],
    registers: [this.registry],
  });
  readonly #produceMessages = new Histogram({
    name: "txlog_api_produce_request_messages",
    help: "Transactions carried by each produce request",
    buckets: messagesBuckets,
    registers: [this.registry],
  });
  readonly #produceAnswerSeconds = new Histogram({
    name: "txlog_api_produce_answer_seconds",
    help: "Time from sending a produce request to Kafka's answer, by outcome (acknowledged, failed)",
    labelNames: ["outcome"],
    buckets: latencySecondsBuckets,
    registers: [this.registry],
  });

  /** `queued()` is read at each scrape: nothing is updated per message. */
  watchProduceQueue(queued: () => number): void {
    new Gauge({
      name: "txlog_api_produce_queue_messages",
      help: "Transactions waiting for a produce request (at most PRODUCE_QUEUED_MESSAGES_MAX)",
      registers: [this.registry],
      collect() {
        this.set(queued());
      },
    });
  }

  answered(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = this.#requestSeconds.series(method, route, String(status));
      this.#series.set(key, series);
    }
    series.observe(seconds);
  }

  unavailable(cause: string): void {
    this.#unavailable.labels(cause).inc();
  }

  /** One produce request answered (from the produce batcher). */
  produceAnswered(messages: number, answerMs: number, acknowledged: boolean): void {
    this.#produceMessages.observe(messages);
    this.#produceAnswerSeconds.labels(acknowledged ? "acknowledged" : "failed").observe(answerMs / 1000);
  }
}

interface Answered {
  /** Set by the onRequest hook on Elysia's context, which the route and afterResponse get too. */
  [startedAtMs]?: number;
  route?: string;
  request: Request;
  set: { status?: number | string };
  responseValue?: unknown;
}

/** The status the client got: a Response and status() carry their own; set.status misses those. */
function answeredStatus({ responseValue, set }: Answered): number {
  if (responseValue instanceof Response) return responseValue.status;
  if (responseValue instanceof ElysiaCustomStatusResponse) return responseValue.code as number;
  return typeof set.status === "number" ? set.status : 200;
}

function unavailableCause(responseValue: unknown): string {
  const body = responseValue instanceof ElysiaCustomStatusResponse ? responseValue.response : responseValue;
  const code = (body as { error?: unknown } | null | undefined)?.error;
  return typeof code === "string" ? code : "not_ready";
}

/**
 * GET /metrics, and the hooks that time every answer. Used before the routes
 * (Elysia applies hooks to routes registered after them). Open like /health:
 * keep it to the operators' network.
 */
export function metricsPlugin(metrics: ApiMetrics) {
  return new Elysia({ name: "metrics" })
    .onRequest((context) => {
      (context as unknown as Answered)[startedAtMs] = performance.now();
    })
    .onAfterResponse({ as: "global" }, (context) => {
      const answered = context as unknown as Answered;
      const started = answered[startedAtMs];
      const seconds = started === undefined ? 0 : (performance.now() - started) / 1000;
      const status = answeredStatus(answered);
      const method = knownMethods.has(answered.request.method) ? answered.request.method : "other";
      metrics.answered(method, answered.route ?? unmatchedRoute, status, seconds);
      if (status === 503) metrics.unavailable(unavailableCause(answered.responseValue));
    })
    .get("/metrics", () => metricsResponse(metrics.registry), {
      detail: { summary: "Prometheus metrics of this API process", tags: ["health"] },
    });
}
