// Loading the API's docs leaves TypeBox's string formats as Elysia set them:
// @elysiajs/openapi's bundle sets uuid, date, email and more again as zod
// checks that build a zod schema on every call (~10 µs each), and every 202
// checks its ids against format uuid. Checked in a process of its own, since
// this test run has long loaded both.
import { expect, test } from "bun:test";
import { repoRoot } from "../support/processes.ts";

const script = `
import { FormatRegistry } from "@sinclair/typebox";
import "elysia";
const before = new Map(FormatRegistry.Entries());
await import("./src/api/app.ts");
const changed = [...before].filter(([name, check]) => FormatRegistry.Get(name) !== check).map(([name]) => name);
console.log(JSON.stringify({ names: [...before.keys()], changed }));
`;

test("importing the API keeps every format check Elysia registered", async () => {
  const child = Bun.spawn(["bun", "-e", script], { cwd: repoRoot, stdout: "pipe", stderr: "inherit" });
  const output = await new Response(child.stdout).text();
  expect(await child.exited).toBe(0);
  const { names, changed } = JSON.parse(output.trim().split("\n").at(-1) ?? "{}");
  expect(names).toContain("uuid");
  expect(names).toContain("date-time");
  expect(changed).toEqual([]);
});
