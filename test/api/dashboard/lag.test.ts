import { expect, test } from "bun:test";
import { freePort } from "../../../scripts/broker.ts";
import { LagReader, lagOf } from "../../../src/api/dashboard/lag.ts";
import { kafkaConnection } from "../../support/run.ts";

test("lag is the end offset minus the committed one, per partition in order; all of it before a first commit", () => {
  const ends = new Map([
    [1, 10n],
    [0, 7n],
    [2, 0n],
  ]);
  const committed = new Map([[1, 4n]]);
  expect(lagOf(ends, committed)).toEqual([
    { partition: 0, endOffset: "7", committedOffset: null, lag: 7 },
    { partition: 1, endOffset: "10", committedOffset: "4", lag: 6 },
    { partition: 2, endOffset: "0", committedOffset: null, lag: 0 },
  ]);
});

test("offsets read while the end offsets were taken a moment earlier never make a negative lag", () => {
  expect(lagOf(new Map([[0, 5n]]), new Map([[0, 6n]]))).toEqual([
    { partition: 0, endOffset: "5", committedOffset: "6", lag: 0 },
  ]);
});

test("a broker that does not answer fails the read within the lag timeout, and the next read tries again", async () => {
  const reader = new LagReader({ ...kafkaConnection(), brokers: [`127.0.0.1:${await freePort()}`] }, "t", "g");
  for (let i = 0; i < 2; i++) {
    const started = performance.now();
    await expect(reader.read()).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(3000);
  }
  await reader.close();
});
