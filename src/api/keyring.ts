// The API's keys at start: TXLOG_API_KEYS and the entries of
// TXLOG_API_KEYS_FILE together, and the rule that an API without keys
// listens on loopback only unless TXLOG_ALLOW_OPEN_API says otherwise.
import { ApiKeyring, parseApiKeyEntries } from "../runtime/api-keys.ts";
import { type Config, ConfigError, settings } from "../runtime/config.ts";

/** A key file larger than this is no key file: refused rather than read, bytes. */
export const keyFileBytesMax = 1024 * 1024;

async function readKeyFile(path: string): Promise<string> {
  const variable = settings.apiKeysFile.variable;
  const file = Bun.file(path);
  if (!(await file.exists())) throw new ConfigError(variable, "must name a readable file", path);
  if (file.size > keyFileBytesMax) throw new ConfigError(variable, `must be at most ${keyFileBytesMax} bytes`, path);
  return file.text();
}

/** Loopback addresses: an open API there is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || ["localhost", "::1", "[::1]"].includes(host);
}

/** The keys the API checks; throws ConfigError for a bad file entry or an open API off loopback. */
export async function loadKeyring(config: Config): Promise<ApiKeyring> {
  const variable = settings.apiKeysFile.variable;
  const fromFile = config.apiKeysFile === "" ? [] : parseApiKeyEntries(variable, await readKeyFile(config.apiKeysFile));
  for (const entry of fromFile) {
    if (config.apiKeys.some((other) => other.id === entry.id)) {
      throw new ConfigError(
        variable,
        `holds id ${entry.id}, which ${settings.apiKeys.variable} has too`,
        config.apiKeysFile,
      );
    }
  }
  const keyring = new ApiKeyring([...config.apiKeys, ...fromFile]);
  if (keyring.empty && !config.allowOpenApi && !isLoopback(config.host)) {
    throw new ConfigError(
      settings.host.variable,
      `must be a loopback address (127.0.0.1, ::1, localhost) while no API key is configured (${settings.apiKeys.variable}, ${variable}); configure keys, or set ${settings.allowOpenApi.variable}=true to serve without keys on it`,
      config.host,
    );
  }
  return keyring;
}

/** The line the API prints at start: whether keys are asked for, and which. */
export function keyringLine(keyring: ApiKeyring, config: Config): string {
  if (!keyring.empty) {
    return `API keys on: ${keyring.ids.length} configured (ids ${keyring.ids.join(", ")}); POST needs scope write, reads need read`;
  }
  const where = isLoopback(config.host)
    ? `it listens on loopback (${config.host}) only`
    : `it listens on ${config.host} because ${settings.allowOpenApi.variable}=true`;
  return `API keys off: none configured (${settings.apiKeys.variable}, ${settings.apiKeysFile.variable}), so no key is asked for and ${where}; \`bun run keys new\` makes one`;
}
