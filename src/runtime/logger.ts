// Structured logs: one JSON object a line (pino), with the level, the time,
// the process role (`api`, `worker`, `seed`, …), the message and its figures
// as fields; pretty-printed instead when stderr is a terminal. Logs go to
// stderr, so a command's own output on stdout (reconcile's report, dlq's
// list, JSON for machines) stays clean to pipe. Lines are written
// synchronously: a process that exits right after logging loses none, and
// the worker logs a few lines a batch, not one per message. pino-pretty runs
// in-process (its sync stream), not as a transport on a worker thread.
//
// Secrets: known fields are redacted by path, and every string that reaches
// a line as an error's message or stack goes through redactSecrets (a
// password in a URL), so a DATABASE_URL never reaches a log in the clear.
import pino, { type DestinationStream, type Logger as PinoLogger } from "pino";
import pinoPretty from "pino-pretty";
import { redactSecrets } from "./redact.ts";
import { ConfigError, type Setting } from "./setting-types.ts";

export type Logger = PinoLogger;

const levels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof levels)[number];
const formats = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof formats)[number];

function oneOf<T extends string>(variable: string, values: readonly T[], defaultValue: T, description: string) {
  const rule = `must be one of ${values.join(", ")}`;
  return {
    variable,
    defaultValue,
    description,
    parse(raw: string): T {
      const value = raw.trim().toLowerCase() as T;
      if (!values.includes(value)) throw new ConfigError(variable, rule, raw);
      return value;
    },
  } satisfies Setting<T>;
}

/** Listed in config.ts's settings; read here too, since logging starts before the configuration is checked. */
export const logSettings = {
  logLevel: oneOf("LOG_LEVEL", levels, "info", "lowest level logged (`debug` adds detail; `silent` logs nothing)"),
  logFormat: oneOf(
    "LOG_FORMAT",
    formats,
    "auto",
    "`json` (one object a line), `pretty` (for people), `auto`: pretty when stderr is a terminal, JSON otherwise",
  ),
};

/** Fields that may carry a secret wherever they appear in a line's object. */
const redactPaths = ["password", "*.password", "databaseUrl", "*.databaseUrl", "authorization", "*.authorization"];

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go; default stderr. */
  destination?: DestinationStream;
  /** Whether stderr is a terminal (format auto). */
  isTty?: boolean;
}

/** An Error as fields, its message and stack with secrets redacted. */
function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: redactSecrets(String(error)) };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: redactSecrets(error.message),
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    ...(error.stack ? { stack: redactSecrets(error.stack) } : {}),
  };
}

export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.format === "pretty" || (options.format === "auto" && (options.isTty ?? process.stderr.isTTY));
  const destination =
    options.destination ??
    (pretty
      ? pinoPretty({ sync: true, destination: 2, ignore: "pid,hostname" })
      : pino.destination({ fd: 2, sync: true }));
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: redactPaths, censor: "***" },
      serializers: { err: errorFields, error: errorFields },
      hooks: {
        // A message built from an error's text may carry a URL with a password.
        logMethod(args, method) {
          method.apply(this, args.map((arg) => (typeof arg === "string" ? redactSecrets(arg) : arg)) as never);
        },
      },
    },
    destination,
  );
}

let root: Logger | undefined;

/** The process's logger, from LOG_LEVEL and LOG_FORMAT (their defaults while a bad value waits to be reported). */
export function rootLogger(): Logger {
  root ??= createLogger({
    level: settingOrDefault(logSettings.logLevel),
    format: settingOrDefault(logSettings.logFormat),
  });
  return root;
}

/** A child logger whose lines carry `role`. */
export function roleLogger(role: string): Logger {
  return rootLogger().child({ role });
}

function settingOrDefault<T>(setting: Setting<T>): T {
  try {
    return setting.parse(process.env[setting.variable] || setting.defaultValue);
  } catch {
    return setting.parse(setting.defaultValue);
  }
}
