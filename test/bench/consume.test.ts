import { expect, test } from "bun:test";
import { namesWithPrefix } from "../../src/kafka/admin.ts";
import { runScript } from "../support/processes.ts";
import { kafkaConnection, testConfig } from "../support/run.ts";

test("bench/consume.ts prints the client's CPU per consumed record for each run, and removes its topic", async () => {
  // Topics another run left on a broker that outlives test runs are not this run's.
  const topicsNow = async () => (await namesWithPrefix(kafkaConnection(testConfig()), "txlog-consume-")).topics;
  const before = await topicsNow();
  const { code, stdout, stderr } = await runScript(["bench/consume.ts", "--rows", "500", "--runs", "2"]);
  if (code !== 0) console.error(stdout + stderr);
  expect(code).toBe(0);
  const figures = [...stdout.matchAll(/^run (\d): 500 records, client CPU ([0-9.]+) µs per record$/gm)];
  expect(figures.map((m) => m[1])).toEqual(["1", "2"]);
  for (const m of figures) expect(Number(m[2])).toBeGreaterThan(0);
  expect(await topicsNow()).toEqual(before);
}, 60_000);

test("bench/consume.ts refuses a bad argument with exit 2", async () => {
  const { code, stderr } = await runScript(["bench/consume.ts", "--rows", "0"]);
  expect(code).toBe(2);
  expect(stderr).toContain("usage: bun bench/consume.ts");
});
