// One line for any thrown value, for logs and reasons: PostgreSQL's errors
// lead with their SQLSTATE, which says whether retrying can help.

export function errorText(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === "string" ? e.message : String(error);
  return typeof e?.code === "string" ? `${e.code} ${message}` : message;
}
