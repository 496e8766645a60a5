// The worker's own small HTTP port (WORKER_PORT): GET /health says the
// process is alive; GET /ready says whether it is doing its job — 200 while
// running, 503 while connecting, degraded (Kafka or PostgreSQL does not
// answer; it keeps retrying) or stopping — with a JSON body that says what is
// wrong, for an orchestrator's probes and an operator.
import type { WorkerStatus } from "./worker-status.ts";

export interface StatusServer {
  readonly port: number;
  stop(): Promise<void>;
}

export function startStatusServer(status: WorkerStatus, hostname: string, port: number): StatusServer {
  const server = Bun.serve({
    hostname,
    port,
    fetch(request) {
      const { pathname } = new URL(request.url);
      const snapshot = status.snapshot();
      const body = {
        ...snapshot,
        lastWriteAt: snapshot.lastWriteAtMs === undefined ? null : new Date(snapshot.lastWriteAtMs).toISOString(),
      };
      if (pathname === "/health") return Response.json({ status: "alive", state: snapshot.state });
      if (pathname === "/ready") return Response.json(body, { status: snapshot.state === "running" ? 200 : 503 });
      return Response.json(
        { error: "not_found", message: `no route ${pathname}; see /health and /ready` },
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
