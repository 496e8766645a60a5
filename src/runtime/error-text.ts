// One line for any thrown value, for logs and reasons: PostgreSQL's errors
// lead with their SQLSTATE, which says whether retrying can help. Secrets in
// URLs are redacted.
import { redactSecrets } from "./redact.ts";

export function errorText(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === "string" ? e.message : String(error);
  return redactSecrets(typeof e?.code === "string" ? `${e.code} ${message}` : message);
}
