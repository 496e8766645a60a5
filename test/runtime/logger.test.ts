import { expect, test } from "bun:test";
import { spawn } from "bun";
import { errorText } from "../../src/runtime/error-text.ts";
import { capturedLog } from "../support/logs.ts";
import { repoRoot } from "../support/processes.ts";

const password = "s3cret-pw-42";
const databaseUrl = `postgres://txlog:${password}@db.example:5432/txlog`;

test("an error carrying a DATABASE_URL with a password is logged without it, wherever the URL appears", () => {
  const logs = capturedLog();
  const error = Object.assign(new Error(`connect ECONNREFUSED for ${databaseUrl}`), { code: "ECONNREFUSED" });
  logs.log.error({ err: error, databaseUrl, config: { password } }, `could not reach ${databaseUrl}`);
  logs.log.warn(errorText(error));
  expect(logs.lines).toHaveLength(2);
  const output = logs.lines.join("");
  expect(output).not.toContain(password);
  const [entry] = logs.entries("could not reach postgres://txlog:***@db.example:5432/txlog");
  expect(entry).toMatchObject({ level: 50, databaseUrl: "***", config: { password: "***" } });
  expect(entry?.err).toMatchObject({ code: "ECONNREFUSED", message: expect.stringContaining("txlog:***@db.example") });
  expect(String((entry?.err as { stack?: string } | undefined)?.stack)).toContain("txlog:***@db.example");
});

test("a process logs JSON lines on stderr when it is not a terminal, pretty when asked, and LOG_LEVEL filters", async () => {
  const script = `import { roleLogger } from "./src/runtime/logger.ts";
const log = roleLogger("probe");
log.debug({ n: 1 }, "hidden at info");
log.info({ n: 2 }, "Message Received");`;
  const run = async (env: Record<string, string>) => {
    const child = spawn(["bun", "-e", script], {
      cwd: repoRoot,
      env: { ...(process.env as Record<string, string>), ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    await child.exited;
    return { out, err };
  };
  const json = await run({ LOG_LEVEL: "info", LOG_FORMAT: "auto" });
  expect(json.out).toBe("");
  const lines = json.err.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 30, role: "probe", n: 2, msg: "Message Received" });
  const debug = await run({ LOG_LEVEL: "debug", LOG_FORMAT: "json" });
  expect(debug.err.trim().split("\n")).toHaveLength(2);
  const pretty = await run({ LOG_LEVEL: "info", LOG_FORMAT: "pretty" });
  expect(pretty.err).toMatch(/INFO.*Message Received/);
  expect(pretty.err).toContain('role: "probe"');
  expect(() => JSON.parse(pretty.err)).toThrow();
});
