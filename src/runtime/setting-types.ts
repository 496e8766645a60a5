// The kinds of setting txlog has, each parsing one environment variable and
// naming the variable and its rule when a value is bad.
import { readFileSync, statSync } from "node:fs";
import { redactSecrets } from "./redact.ts";
import { Secret } from "./secret.ts";

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

export function choice<const T extends string>(
  variable: string,
  defaultValue: T,
  allowed: readonly T[],
  description: string,
): Setting<T> {
  const rule = `must be one of ${allowed.join(", ")}`;
  return {
    variable,
    defaultValue,
    description,
    parse(raw) {
      const value = allowed.find((option) => option.toLowerCase() === raw.trim().toLowerCase());
      if (value === undefined) throw new ConfigError(variable, rule, raw);
      return value;
    },
  };
}

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

/** A text that may be left unset (undefined); set, it must match `pattern`. */
export function optionalText(
  variable: string,
  pattern: RegExp,
  rule: string,
  description: string,
): Setting<string | undefined> {
  return {
    variable,
    defaultValue: "",
    description,
    parse(raw) {
      const value = raw.trim();
      if (value === "") return undefined;
      if (!pattern.test(value)) throw new ConfigError(variable, rule, raw);
      return value;
    },
  };
}

/** A secret given in the environment; a bad one is never echoed. */
export function secret(variable: string, description: string): Setting<Secret | undefined> {
  return {
    variable,
    defaultValue: "",
    description,
    parse(raw) {
      if (raw === "") return undefined;
      if (/[\r\n\0]/.test(raw)) throw new ConfigError(variable, "must be one line", "***");
      return new Secret(raw);
    },
  };
}

/** Longest file a setting reads (a password, a PEM bundle), bytes. */
const settingFileBytesMax = 1024 * 1024;

/**
 * A file read once at start (a password file, PEM certificates): the
 * setting's value is the file's text, a Secret when `isSecret`, without a
 * final newline. The rule names the path, never the content.
 */
export function fileText(variable: string, description: string): Setting<string | undefined>;
export function fileText(variable: string, description: string, isSecret: true): Setting<Secret | undefined>;
export function fileText(variable: string, description: string, isSecret = false): Setting<string | Secret | undefined> {
  return {
    variable,
    defaultValue: "",
    description,
    parse(raw) {
      const path = raw.trim();
      if (path === "") return undefined;
      let text: string;
      try {
        if (statSync(path).size > settingFileBytesMax) {
          throw new ConfigError(variable, `must name a file of at most ${settingFileBytesMax} bytes`, raw);
        }
        text = readFileSync(path, "utf8").replace(/\r?\n$/, "");
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        throw new ConfigError(variable, `must name a readable file (${(error as { code?: string }).code})`, raw);
      }
      if (text === "") throw new ConfigError(variable, "must name a file that is not empty", raw);
      return isSecret ? new Secret(text) : text;
    },
  };
}
