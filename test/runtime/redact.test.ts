// A DATABASE_URL with a password driven through every error path a user can
// reach from the command line: the password never appears in the output.
import { expect, test } from "bun:test";
import { spawn } from "bun";
import { errorText } from "../../src/runtime/error-text.ts";
import { redactSecrets } from "../../src/runtime/redact.ts";
import { repoRoot } from "../support/processes.ts";

const password = "s3cr3t-Pw_9";

test("redactSecrets hides the password of every URL in a text and leaves the rest", () => {
  expect(redactSecrets(`postgres://txlog:${password}@db:5432/txlog and postgresql://a:b@h/d`)).toBe(
    "postgres://txlog:***@db:5432/txlog and postgresql://a:***@h/d",
  );
  expect(redactSecrets("postgres://txlog@db/txlog, no password")).toBe("postgres://txlog@db/txlog, no password");
  expect(errorText(new Error(`connect to postgres://u:${password}@h/d failed`))).not.toContain(password);
});

/** Each URL, and what the output must show to prove the error path was reached. */
const urls = [
  ["a wrong scheme", `mysql://txlog:${password}@127.0.0.1:5432/txlog`, /DATABASE_URL: must be a postgres/],
  ["no database name", `postgres://txlog:${password}@127.0.0.1:5432`, /DATABASE_URL: must be a postgres/],
  ["a server that does not answer", `postgres://txlog:${password}@127.0.0.1:1/txlog`, /127\.0\.0\.1:1|ECONNREFUSED/],
] as const;
const commands = [
  ["the API", ["src/api.ts"]],
  ["the worker", ["src/worker.ts"]],
  ["migrate", ["src/postgres/migrate.ts"]],
  ["seed", ["src/seed.ts"]],
  ["reconcile", ["src/reconcile.ts"]],
  ["dlq", ["src/dlq.ts"]],
] as const;

for (const [what, url, reached] of urls) {
  test(`DATABASE_URL with ${what}: no command prints the password, each exits non-zero`, async () => {
    const runs = commands.map(async ([name, args]) => {
      const child = spawn(["bun", "run", ...args], {
        cwd: repoRoot,
        env: { ...(process.env as Record<string, string>), DATABASE_URL: url, WORKER_PORT: "0" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      const [out, err, code] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
        child.exited,
      ]);
      clearTimeout(timer);
      return { name, output: out + err, code };
    });
    for (const { name, output, code } of await Promise.all(runs)) {
      expect(output, `${name} reached the error path`).toMatch(reached);
      expect(output, `${name} printed the password`).not.toContain(password);
      expect(code, `${name} exit code (output: ${output})`).not.toBe(0);
    }
  }, 120_000);
}
