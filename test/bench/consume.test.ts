import { expect, test } from "bun:test";
import { join } from "node:path";
import { spawn } from "bun";
import { namesWithPrefix } from "../../src/kafka/admin.ts";
import { kafkaConnection, testConfig } from "../support/run.ts";

const root = join(import.meta.dir, "..", "..");

test("bench/consume.ts prints the client's CPU per consumed record for each run, and removes its topic", async () => {
  const child = spawn([process.execPath, "bench/consume.ts", "--rows", "500", "--runs", "2"], {
    cwd: root,
    env: process.env as Record<string, string>,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0) console.error(stdout + stderr);
  expect(code).toBe(0);
  const figures = [...stdout.matchAll(/^run (\d): 500 records, client CPU ([0-9.]+) µs per record$/gm)];
  expect(figures.map((m) => m[1])).toEqual(["1", "2"]);
  for (const m of figures) expect(Number(m[2])).toBeGreaterThan(0);
  const { topics } = await namesWithPrefix(kafkaConnection(testConfig()), "txlog-consume-");
  expect(topics).toEqual([]);
}, 60_000);

test("bench/consume.ts refuses a bad argument with exit 2", async () => {
  const child = spawn([process.execPath, "bench/consume.ts", "--rows", "0"], { cwd: root, stderr: "pipe" });
  expect(await child.exited).toBe(2);
  expect(await new Response(child.stderr).text()).toContain("usage: bun bench/consume.ts");
});
