// The kinds of setting txlog has, each parsing one environment variable and
// naming the variable and its rule when a value is bad.
import { redactSecrets } from "./redact.ts";

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly rule: string,
    readonly value: string,
  ) {
    super(`${variable}: ${rule} (got ${JSON.stringify(redactSecrets(value))})`);
    this.name = "ConfigError";
  }
}

export interface Setting<T> {
  readonly variable: string;
  readonly defaultValue: string;
  readonly description: string;
  parse(raw: string): T;
}

export function integer(
  variable: string,
  defaultValue: number,
  min: number,
  max: number,
  description: string,
): Setting<number> {
  const rule = `must be an integer from ${min} to ${max}`;
  return {
    variable,
    defaultValue: String(defaultValue),
    description,
    parse(raw) {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(variable, rule, raw);
      const value = Number(raw.trim());
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        throw new ConfigError(variable, rule, raw);
      }
      return value;
    },
  };
}

export function text(
  variable: string,
  defaultValue: string,
  pattern: RegExp,
  rule: string,
  description: string,
): Setting<string> {
  return {
    variable,
    defaultValue,
    description,
    parse(raw) {
      const value = raw.trim();
      if (!pattern.test(value)) throw new ConfigError(variable, rule, raw);
      return value;
    },
  };
}

export function brokerList(variable: string, defaultValue: string, description: string): Setting<string[]> {
  const rule = "must be a comma-separated list of host:port";
  return {
    variable,
    defaultValue,
    description,
    parse(raw) {
      const brokers = raw
        .split(",")
        .map((broker) => broker.trim())
        .filter((broker) => broker !== "");
      if (brokers.length === 0) throw new ConfigError(variable, rule, raw);
      for (const broker of brokers) {
        const match = /^([A-Za-z0-9.\-_]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(broker);
        const port = match ? Number(match[2]) : 0;
        if (!match || port < 1 || port > 65535) throw new ConfigError(variable, rule, raw);
      }
      return brokers;
    },
  };
}

export function postgresUrl(variable: string, defaultValue: string, description: string): Setting<string> {
  const rule = "must be a postgres:// or postgresql:// URL naming a database";
  return {
    variable,
    defaultValue,
    description,
    parse(raw) {
      const value = raw.trim();
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new ConfigError(variable, rule, raw);
      }
      const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
      if (!["postgres:", "postgresql:"].includes(url.protocol) || database === "") {
        throw new ConfigError(variable, rule, raw);
      }
      return value;
    },
  };
}

/** A feature switch: `on` or `off`, nothing else, so a typo is refused rather than read as either. */
export function onOff(variable: string, defaultValue: boolean, description: string): Setting<boolean> {
  const rule = "must be on or off";
  return {
    variable,
    defaultValue: defaultValue ? "on" : "off",
    description,
    parse(raw) {
      const value = raw.trim();
      if (value !== "on" && value !== "off") throw new ConfigError(variable, rule, raw);
      return value === "on";
    },
  };
}

/** A yes-or-no setting: `true` or `false` (any case), nothing else. */
export function flag(variable: string, defaultValue: boolean, description: string): Setting<boolean> {
  const rule = "must be true or false";
  return {
    variable,
    defaultValue: String(defaultValue),
    description,
    parse(raw) {
      const value = raw.trim().toLowerCase();
      if (value !== "true" && value !== "false") throw new ConfigError(variable, rule, raw);
      return value === "true";
    },
  };
}

/** A postgres:// URL, or empty for "use another setting's" (the caller says which). */
export function optionalPostgresUrl(variable: string, description: string): Setting<string> {
  const url = postgresUrl(variable, "", description);
  return { ...url, parse: (raw) => (raw.trim() === "" ? "" : url.parse(raw)) };
}
