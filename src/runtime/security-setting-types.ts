// Setting kinds beyond numbers and names: a choice, a boolean, an optional
// text, a secret and a file read at start; the Kafka security settings use
// them. A secret or a secret file's content never appears in a ConfigError.
import { readFileSync, statSync } from "node:fs";
import { Secret } from "./secret.ts";
import { ConfigError, type Setting } from "./setting-types.ts";

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
export function fileText(
  variable: string,
  description: string,
  isSecret = false,
): Setting<string | Secret | undefined> {
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
