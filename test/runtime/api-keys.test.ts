// API keys: the format, the configured entries, and the check of a header.
import { expect, test } from "bun:test";
import { ApiKeyring, apiKeyEntryText, apiKeyHash, newApiKey, parseApiKeyEntries } from "../../src/runtime/api-keys.ts";
import { ConfigError, loadConfig } from "../../src/runtime/config.ts";

function keyring(...keys: { id: string; key: string; scopes?: ("write" | "read")[] }[]): ApiKeyring {
  const text = keys.map(({ id, key, scopes }) => apiKeyEntryText(id, scopes ?? ["write", "read"], key)).join(",");
  return new ApiKeyring(parseApiKeyEntries("TXLOG_API_KEYS", text));
}

test("a new key is txk_<id>_<64 hex>; its entry is id:scopes:sha256 of the whole key, never the key", () => {
  const { id, key } = newApiKey();
  expect(id).toMatch(/^[0-9a-f]{12}$/);
  expect(key).toMatch(new RegExp(`^txk_${id}_[0-9a-f]{64}$`));
  expect(newApiKey().key).not.toBe(key);
  const entry = apiKeyEntryText(id, ["write", "read"], key);
  expect(entry).toBe(`${id}:write+read:${apiKeyHash(key).toString("hex")}`);
  expect(entry).not.toContain(key.slice(-64));
  expect(newApiKey("ci-bench").key.startsWith("txk_ci-bench_")).toBe(true);
  expect(() => newApiKey("Has_Underscore")).toThrow(/must be 1 to 32 of a-z/);
});

test("verify: the configured key passes; a missing header, another scheme, a changed secret or an unknown id do not", () => {
  const a = newApiKey("a");
  const b = newApiKey("b");
  const ring = keyring(a, { ...b, scopes: ["read"] });
  expect(ring.verify(`Bearer ${a.key}`)?.id).toBe("a");
  expect(ring.verify(`bearer ${b.key}`)?.scopes).toEqual(["read"]);
  expect(ring.verify(null)).toBeUndefined();
  expect(ring.verify(a.key)).toBeUndefined();
  expect(ring.verify(`Basic ${a.key}`)).toBeUndefined();
  expect(ring.verify(`Bearer ${a.key}x`)).toBeUndefined();
  const flipped = `${a.key.slice(0, -1)}${a.key.endsWith("0") ? "1" : "0"}`;
  expect(ring.verify(`Bearer ${flipped}`)).toBeUndefined();
  // b's secret under a's id: the hash binds the id and the secret together.
  expect(ring.verify(`Bearer ${b.key.replace("txk_b_", "txk_a_")}`)).toBeUndefined();
  expect(ring.verify(`Bearer ${newApiKey("c").key}`)).toBeUndefined();
  expect(new ApiKeyring([]).empty).toBe(true);
});

test("entries: comma- or line-separated, comments and blanks skipped; two keys may coexist (rotation)", () => {
  const a = newApiKey("old");
  const b = newApiKey("new");
  const text = `# rotated 2026-12\n${apiKeyEntryText("old", ["write"], a.key)}\n\n${apiKeyEntryText("new", ["write"], b.key)}`;
  const ring = new ApiKeyring(parseApiKeyEntries("TXLOG_API_KEYS_FILE", text));
  expect(ring.ids).toEqual(["old", "new"]);
  expect(ring.verify(`Bearer ${a.key}`)?.id).toBe("old");
  expect(ring.verify(`Bearer ${b.key}`)?.id).toBe("new");
});

const hash = "a".repeat(64);
const badEntries: [string, RegExp][] = [
  [`k1:write`, /must be comma-separated entries id:scopes:sha256hex/],
  [`K1:write:${hash}`, /id must be 1 to 32 of a-z/],
  [`k1:admin:${hash}`, /scopes write, read or write\+read/],
  [`k1:write+write:${hash}`, /scopes write/],
  [`k1:write:${"a".repeat(63)}`, /the SHA-256 of the key as 64 hex digits/],
  [`k1:write:${hash},k1:read:${hash}`, /id k1 is given twice/],
];
for (const [value, rule] of badEntries) {
  test(`TXLOG_API_KEYS=${value.slice(0, 24)}… is refused naming the variable and the rule`, () => {
    let caught: unknown;
    try {
      loadConfig({ TXLOG_API_KEYS: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe("TXLOG_API_KEYS");
    expect((caught as Error).message).toMatch(rule);
  });
}

test("a key put where its entry belongs is refused without being echoed", () => {
  const { key } = newApiKey();
  let caught: unknown;
  try {
    loadConfig({ TXLOG_API_KEYS: key });
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as Error).message).toContain("it holds a key itself");
  expect((caught as Error).message).not.toContain(key.slice(-64));
});

test("API key settings: none by default, the open API only on loopback, limits with their units", () => {
  const config = loadConfig({});
  expect(config.apiKeys).toEqual([]);
  expect(config.apiKeysFile).toBe("");
  expect(config.allowOpenApi).toBe(false);
  expect(loadConfig({ TXLOG_ALLOW_OPEN_API: "true" }).allowOpenApi).toBe(true);
  expect(() => loadConfig({ TXLOG_ALLOW_OPEN_API: "yes" })).toThrow(/^TXLOG_ALLOW_OPEN_API: must be true or false/);
  expect(() => loadConfig({ API_KEY_REQUESTS_PER_S: "0" })).toThrow(
    /^API_KEY_REQUESTS_PER_S: must be an integer from 1/,
  );
  expect(() => loadConfig({ API_REQUESTS_IN_FLIGHT_MAX: "0" })).toThrow(
    /^API_REQUESTS_IN_FLIGHT_MAX: must be an integer/,
  );
});
