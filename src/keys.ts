// `bun run keys new --scopes write,read [--id ID]`: makes an API key. The key
// goes alone on the first line of stdout, shown this once (txlog keeps only
// its hash); the second line is the TXLOG_API_KEYS entry to add. Beside the
// API and the worker in src/ because operators run it where they run those
// (the Docker image copies src/), not only developers.
import { parseArgs } from "node:util";
import { type ApiKeyScope, apiKeyEntryText, apiKeyScopes, newApiKey } from "./runtime/api-keys.ts";
import { settings } from "./runtime/config.ts";

export const usage = `usage: bun run keys new --scopes SCOPES [--id ID]
  --scopes  comma-separated: ${apiKeyScopes.join(", ")} (write: POST transactions; read: GET transactions, reports, rejections)
  --id      the key's public id (default: 12 random hex digits); stored with each transaction for audit
Prints the key alone on the first line (shown once: txlog keeps only its SHA-256), then the
${settings.apiKeys.variable} entry to add (comma-separated), or to put on a line of ${settings.apiKeysFile.variable}.`;

export class UsageError extends Error {}

export interface NewKey {
  key: string;
  entry: string;
}

/** The key and its entry for `args` (the words after `bun run keys`); throws UsageError on a bad one. */
export function newKeyFromArgs(args: string[]): NewKey {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || positionals[0] !== "new") throw new UsageError("the command must be `new`");
  if (values.scopes === undefined) throw new UsageError("--scopes is required: write, read or write,read");
  const scopes = values.scopes.split(",").map((scope) => scope.trim());
  const known = scopes.every((scope) => (apiKeyScopes as readonly string[]).includes(scope));
  if (!known || new Set(scopes).size !== scopes.length) {
    throw new UsageError(`--scopes must be ${apiKeyScopes.join(", ")} or both, each once (got ${values.scopes})`);
  }
  let made: { id: string; key: string };
  try {
    made = newApiKey(values.id);
  } catch (error) {
    throw new UsageError(`--${(error as Error).message}`);
  }
  return { key: made.key, entry: apiKeyEntryText(made.id, scopes as ApiKeyScope[], made.key) };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: { scopes: { type: "string" }, id: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: true,
  });
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage);
    process.exit(0);
  }
  try {
    const { key, entry } = newKeyFromArgs(args);
    console.log(key);
    console.log(`${settings.apiKeys.variable}=${entry}`);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`keys: ${error.message}\n${usage}`);
    process.exit(2);
  }
}
