// The worker's own small HTTP port (WORKER_PORT): GET /health says the
// process is alive; GET /ready says whether it is doing its job (readiness.ts:
// running, partitions assigned, lag under WORKER_READY_LAG_MAX, a batch
// written within WORKER_READY_WRITE_AGE_MS_MAX while messages wait), 200 or
// 503 with a JSON body that says what is wrong, for an orchestrator's probes
// and an operator; GET /metrics the worker's Prometheus metrics.
import type { Registry } from "prom-client";
import { metricsResponse } from "../runtime/metrics.ts";
import { type ReadinessLimits, readiness } from "./readiness.ts";
import type { WorkerStatus } from "./worker-status.ts";

export interface StatusServer {
  readonly port: number;
  stop(): Promise<void>;
}

export interface StatusServerOptions {
  status: WorkerStatus;
  limits: ReadinessLimits;
  /** Served at /metrics. */
  registry: Registry;
  hostname: string;
  port: number;
}

const isoTime = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function readyResponse(status: WorkerStatus, limits: ReadinessLimits): Response {
  const snapshot = status.snapshot();
  const { ready, reasons } = readiness(snapshot, limits);
  const body = {
    ready,
    reasons,
    ...snapshot,
    lastWriteAt: isoTime(snapshot.lastWriteAtMs),
    assignedAt: isoTime(snapshot.assignedAtMs),
    limits,
  };
  return Response.json(body, { status: ready ? 200 : 503 });
}

export function startStatusServer({ status, limits, registry, hostname, port }: StatusServerOptions): StatusServer {
  const server = Bun.serve({
    hostname,
    port,
    fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname === "/health") return Response.json({ status: "alive", state: status.state });
      if (pathname === "/ready") return readyResponse(status, limits);
      if (pathname === "/metrics") return metricsResponse(registry);
      return Response.json(
        { error: "not_found", message: `no route ${pathname}; see /health, /ready and /metrics` },
        { status: 404 },
      );
    },
  });
  return {
    port: server.port ?? port,
    async stop() {
      await server.stop(true);
    },
  };
}
