// Loggers for in-process tests: one that keeps its JSON lines for
// assertions, and one that drops everything.
import { createLogger, type Logger } from "../../src/runtime/logger.ts";

export interface CapturedLog {
  log: Logger;
  /** Every line written so far, as written (JSON). */
  lines: string[];
  /** The `msg` of every line so far. */
  messages(): string[];
  /** The lines whose `msg` is `msg`, parsed. */
  entries(msg: string): Record<string, unknown>[];
}

export function capturedLog(level: "info" | "debug" = "info"): CapturedLog {
  const lines: string[] = [];
  const log = createLogger({ level, format: "json", destination: { write: (line: string) => lines.push(line) } });
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    log,
    lines,
    messages: () => parsed().map((entry) => String(entry.msg)),
    entries: (msg) => parsed().filter((entry) => entry.msg === msg),
  };
}

export const silentLog: Logger = createLogger({ level: "silent", format: "json" });
