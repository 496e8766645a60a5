// The API's keys at start: env and file together, and no open API off loopback
// unless it is asked for.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLoopback, keyringLine, loadKeyring } from "../../src/api/keyring.ts";
import { apiKeyEntryText, newApiKey, parseApiKeyEntries } from "../../src/runtime/api-keys.ts";
import { ConfigError, loadConfig } from "../../src/runtime/config.ts";

const dir = mkdtempSync(join(tmpdir(), "txlog-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(env: Record<string, string>): Promise<ConfigError> {
  const caught = await loadKeyring(loadConfig(env)).catch((error: unknown) => error);
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

test("without keys the API stays on loopback: another HOST is refused naming HOST and the way out", async () => {
  for (const host of ["127.0.0.1", "127.0.0.2", "localhost", "::1"]) expect(isLoopback(host)).toBe(true);
  for (const host of ["0.0.0.0", "10.0.0.5", "::", "example.com"]) expect(isLoopback(host)).toBe(false);
  const open = await loadKeyring(loadConfig({}));
  expect(open.empty).toBe(true);
  expect(keyringLine(open, loadConfig({}))).toMatch(/^API keys off: .*listens on loopback \(127\.0\.0\.1\) only/);
  const error = await refusal({ HOST: "0.0.0.0" });
  expect(error.variable).toBe("HOST");
  expect(error.message).toContain("must be a loopback address");
  expect(error.message).toContain("TXLOG_ALLOW_OPEN_API=true");
  const allowed = loadConfig({ HOST: "0.0.0.0", TXLOG_ALLOW_OPEN_API: "true" });
  expect((await loadKeyring(allowed)).empty).toBe(true);
  expect(keyringLine(await loadKeyring(allowed), allowed)).toContain(
    "listens on 0.0.0.0 because TXLOG_ALLOW_OPEN_API=true",
  );
  // With a key, any HOST.
  const key = newApiKey("k");
  const keyed = await loadKeyring(
    loadConfig({ HOST: "0.0.0.0", TXLOG_API_KEYS: apiKeyEntryText("k", ["read"], key.key) }),
  );
  expect(keyed.verify(`Bearer ${key.key}`)?.id).toBe("k");
});

test("TXLOG_API_KEYS_FILE adds its entries to TXLOG_API_KEYS; a bad, missing or overlapping file is refused naming it", async () => {
  const [a, b] = [newApiKey("a"), newApiKey("b")];
  const file = join(dir, "keys");
  writeFileSync(file, `# txlog keys\n${apiKeyEntryText("b", ["write"], b.key)}\n`);
  const ring = await loadKeyring(
    loadConfig({ TXLOG_API_KEYS: apiKeyEntryText("a", ["read"], a.key), TXLOG_API_KEYS_FILE: file }),
  );
  expect(ring.ids).toEqual(["a", "b"]);
  expect(ring.verify(`Bearer ${b.key}`)?.scopes).toEqual(["write"]);

  expect((await refusal({ TXLOG_API_KEYS_FILE: join(dir, "missing") })).message).toMatch(
    /^TXLOG_API_KEYS_FILE: must name a readable file/,
  );
  const bad = join(dir, "bad");
  writeFileSync(bad, "b:write:nothex\n");
  expect((await refusal({ TXLOG_API_KEYS_FILE: bad })).message).toMatch(
    /^TXLOG_API_KEYS_FILE: must be comma-separated/,
  );
  const overlap = await refusal({ TXLOG_API_KEYS: apiKeyEntryText("b", ["read"], a.key), TXLOG_API_KEYS_FILE: file });
  expect(overlap.message).toContain("holds id b, which TXLOG_API_KEYS has too");
  expect(parseApiKeyEntries("X", "")).toEqual([]);
});

test("`bun run api` on a non-loopback HOST without keys exits 2 before it connects to anything, naming HOST", async () => {
  const child = Bun.spawn(["bun", "run", "src/api.ts"], {
    env: { ...process.env, HOST: "0.0.0.0", TXLOG_API_KEYS: "", TXLOG_API_KEYS_FILE: "", TXLOG_ALLOW_OPEN_API: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = await new Response(child.stderr).text();
  expect(await child.exited).toBe(2);
  expect(stderr).toContain("txlog: bad configuration: HOST: must be a loopback address");
}, 30_000);
