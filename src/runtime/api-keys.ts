// API keys: what a key looks like, how it is configured (as a hash, never the
// key itself) and how one is checked. A key is `txk_<id>_<secret>`: the id is
// public (stored with each transaction for audit, shown in logs), the secret
// 32 random bytes. A configured entry is `id:scopes:sha256hex`, the SHA-256
// of the whole key: keys are high-entropy random secrets, so one fast hash is
// enough (a slow password hash would guard against guessing, which 256 random
// bits already rule out) and costs a microsecond per request.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { apiKeyIdPattern, apiKeyIdRule } from "../transaction/ids.ts";
import { ConfigError, type Setting } from "./setting-types.ts";

export const apiKeyScopes = ["write", "read"] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

export interface ApiKeyEntry {
  readonly id: string;
  readonly scopes: readonly ApiKeyScope[];
  /** SHA-256 of the whole key, 32 bytes. */
  readonly hash: Buffer;
}

const keyPrefix = "txk_";
const secretBytes = 32;
const bearerPrefix = "bearer ";
/** Generated ids: 6 random bytes as hex. */
const generatedIdBytes = 6;
/** Scopes in an entry are joined by '+' (',' separates entries). */
const scopeSeparator = "+";

export const entryRule = `must be comma-separated entries id:scopes:sha256hex (id ${apiKeyIdRule}; scopes write, read or write${scopeSeparator}read; the SHA-256 of the key as 64 hex digits), each id once`;

/** SHA-256 of a key, as it is configured (Bun's own: a third of node:crypto's createHash per request). */
export function apiKeyHash(key: string): Buffer {
  return Buffer.from(Bun.SHA256.hash(key) as Uint8Array);
}

/** A new key, with a random id unless one is given (checked against the id rule). */
export function newApiKey(id: string = randomBytes(generatedIdBytes).toString("hex")): { id: string; key: string } {
  if (!apiKeyIdPattern.test(id)) throw new RangeError(`id ${JSON.stringify(id)}: ${apiKeyIdRule}`);
  return { id, key: `${keyPrefix}${id}_${randomBytes(secretBytes).toString("hex")}` };
}

/** The configuration entry of a key: what TXLOG_API_KEYS or its file holds. */
export function apiKeyEntryText(id: string, scopes: readonly ApiKeyScope[], key: string): string {
  return `${id}:${scopes.join(scopeSeparator)}:${apiKeyHash(key).toString("hex")}`;
}

/** One `id:scopes:sha256hex` entry; undefined when it breaks the rule. */
function parseEntry(text: string): ApiKeyEntry | undefined {
  const match = /^([^:]+):([^:]+):([0-9a-f]{64})$/.exec(text);
  if (match === null || !apiKeyIdPattern.test(match[1] as string)) return undefined;
  const scopes = (match[2] as string).split(scopeSeparator);
  const known = scopes.every((scope) => (apiKeyScopes as readonly string[]).includes(scope));
  if (!known || new Set(scopes).size !== scopes.length) return undefined;
  return { id: match[1] as string, scopes: scopes as ApiKeyScope[], hash: Buffer.from(match[3] as string, "hex") };
}

/**
 * Entries of `variable`: comma- or newline-separated, blank lines and `#`
 * comment lines skipped. Throws ConfigError naming the variable, the rule and
 * the entry (a hash is no secret), or the id given twice.
 */
export function parseApiKeyEntries(variable: string, text: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const items = text
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter((item) => item !== "" && !item.startsWith("#"));
  for (const item of items) {
    // A key itself where its entry belongs: refused without echoing it.
    if (item.includes(keyPrefix)) throw new ConfigError(variable, `${entryRule}; it holds a key itself`, "(hidden)");
    const entry = parseEntry(item);
    if (entry === undefined) throw new ConfigError(variable, entryRule, item);
    if (entries.some((other) => other.id === entry.id)) {
      throw new ConfigError(variable, `${entryRule}: id ${entry.id} is given twice`, item);
    }
    entries.push(entry);
  }
  return entries;
}

/** TXLOG_API_KEYS: entries checked at start, in every process that reads the configuration. */
export function apiKeyEntries(variable: string, description: string): Setting<ApiKeyEntry[]> {
  return { variable, defaultValue: "", description, parse: (raw) => parseApiKeyEntries(variable, raw) };
}

/** The configured keys by id, and the check of an `Authorization` header against them. */
export class ApiKeyring {
  private readonly byId: Map<string, ApiKeyEntry>;

  constructor(entries: readonly ApiKeyEntry[]) {
    this.byId = new Map(entries.map((entry) => [entry.id, entry]));
    if (this.byId.size !== entries.length) throw new RangeError("an API key id is configured twice");
  }

  /** True when no key is configured: the API is open (loopback only, unless allowed otherwise). */
  get empty(): boolean {
    return this.byId.size === 0;
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }

  /**
   * The key an `Authorization: Bearer <key>` header carries, when it is one of
   * the configured keys; undefined otherwise. One hash, one Map lookup and a
   * constant-time comparison of the hashes.
   */
  verify(authorization: string | null): ApiKeyEntry | undefined {
    // The scheme is case-insensitive (RFC 9110); whatever follows is judged by
    // its hash, so a malformed key simply matches no entry.
    if (authorization === null || authorization.slice(0, bearerPrefix.length).toLowerCase() !== bearerPrefix) {
      return undefined;
    }
    const key = authorization.slice(bearerPrefix.length).trim();
    const idEnd = key.indexOf("_", keyPrefix.length);
    if (!key.startsWith(keyPrefix) || idEnd === -1) return undefined;
    const entry = this.byId.get(key.slice(keyPrefix.length, idEnd));
    if (entry === undefined) return undefined;
    return timingSafeEqual(Bun.SHA256.hash(key) as Uint8Array, entry.hash) ? entry : undefined;
  }
}
