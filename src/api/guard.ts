// The guard of the routes that need an API key. A route opts in with one
// option: `.use(deps.guard).get("/x", handler, { scope: "read" })`; its
// handler then gets `apiKeyId` (undefined when no key is configured). In
// order, before the route reads a body:
//   401 no valid key (WWW-Authenticate: Bearer), 403 the key lacks the scope,
//   503 over API_REQUESTS_IN_FLIGHT_MAX, 429 over the key's rate limit.
// Routes without the option (/health, /ready, /swagger) stay open.
import { Elysia } from "elysia";
import type { ApiKeyring, ApiKeyScope } from "../runtime/api-keys.ts";
import type { ErrorBody } from "./models.ts";
import { openBucket, type RateLimits } from "./rate-limit.ts";

export interface GuardDeps {
  keyring: ApiKeyring;
  rateLimits: RateLimits;
  requestsInFlightMax: number;
  /** Requests the server is answering now, this one included. */
  requestsInFlight(): number;
}

/** The OpenAPI security scheme the guarded routes name. */
export const securitySchemes = {
  apiKey: {
    type: "http",
    scheme: "bearer",
    description: "an API key, txk_<id>_<secret> (`bun run keys new`); not asked for when none is configured",
  },
} as const;

const unauthorized: ErrorBody = {
  error: "unauthorized",
  message: "authorization: must be `Bearer <API key>` with a configured key",
  errors: [{ field: "authorization", rule: "must be `Bearer <API key>` with a configured key" }],
};

function forbidden(id: string, scope: ApiKeyScope, method: string): ErrorBody {
  const rule = `API key ${id} lacks scope ${scope}, which ${method} on this route needs`;
  return { error: "forbidden", message: `authorization: ${rule}`, errors: [{ field: "authorization", rule }] };
}

function tooMany(id: string | undefined): ErrorBody {
  const who = id === undefined ? "the clients (no API key configured)" : `API key ${id}`;
  return {
    error: "rate_limited",
    message: `${who} made more requests than API_KEY_REQUESTS_PER_S allows after a burst of API_KEY_BURST_REQUESTS; nothing was accepted, retry after Retry-After seconds`,
  };
}

function busy(max: number): ErrorBody {
  return {
    error: "too_many_requests_in_flight",
    message: `more than ${max} requests in flight (API_REQUESTS_IN_FLIGHT_MAX); nothing was accepted, retry after Retry-After seconds`,
  };
}

export function guardPlugin(deps: GuardDeps) {
  return new Elysia({ name: "guard" }).macro({
    scope: (scope: ApiKeyScope) => ({
      detail: { security: [{ apiKey: [] }] },
      resolve({ request, set, status }) {
        let apiKeyId: string | undefined;
        if (!deps.keyring.empty) {
          const key = deps.keyring.verify(request.headers.get("authorization"));
          if (key === undefined) {
            set.headers["www-authenticate"] = 'Bearer realm="txlog"';
            return status(401, unauthorized);
          }
          if (!key.scopes.includes(scope)) return status(403, forbidden(key.id, scope, request.method));
          apiKeyId = key.id;
        }
        if (deps.requestsInFlight() > deps.requestsInFlightMax) {
          set.headers["retry-after"] = "1";
          return status(503, busy(deps.requestsInFlightMax));
        }
        const waitS = deps.rateLimits.take(apiKeyId ?? openBucket);
        if (waitS > 0) {
          set.headers["retry-after"] = String(waitS);
          return status(429, tooMany(apiKeyId));
        }
        return { apiKeyId };
      },
    }),
  });
}

export type Guard = ReturnType<typeof guardPlugin>;
