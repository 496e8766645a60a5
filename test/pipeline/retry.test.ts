import { expect, test } from "bun:test";
import { backoffMs, retrying } from "../../src/pipeline/retry.ts";

test("backoff doubles from its minimum, is capped, and is jittered within the upper half", () => {
  const low = () => 0;
  const high = () => 0.999999;
  expect([1, 2, 3, 4].map((failures) => backoffMs(failures, 500, 10_000, high))).toEqual([500, 1000, 2000, 4000]);
  expect([1, 2, 3, 4].map((failures) => backoffMs(failures, 500, 10_000, low))).toEqual([250, 500, 1000, 2000]);
  expect(backoffMs(10, 500, 10_000, high)).toBe(10_000);
  expect(backoffMs(1000, 500, 10_000, low)).toBe(5000);
  expect(backoffMs(1, 500, 200, high)).toBe(200);
});

test("retrying: fatal errors are thrown at once; others are retried until the attempt passes; an abort gives up", async () => {
  const signal = new AbortController().signal;
  let calls = 0;
  const waits: number[] = [];
  const options = {
    backoffMsMin: 1,
    backoffMsMax: 4,
    signal,
    isFatal: (error: unknown) => (error as Error).message === "fatal",
    onFailure: (_failures: number, waitMs: number) => waits.push(waitMs),
  };
  const value = await retrying(async () => {
    calls++;
    if (calls < 4) throw new Error("transient");
    return "written";
  }, options);
  expect(value).toBe("written");
  expect(calls).toBe(4);
  expect(waits.every((ms) => ms >= 0 && ms <= 4)).toBe(true);
  await expect(
    retrying(async () => {
      throw new Error("fatal");
    }, options),
  ).rejects.toThrow("fatal");
  const abort = new AbortController();
  const given = retrying(
    async () => {
      abort.abort();
      throw new Error("transient");
    },
    { ...options, signal: abort.signal },
  );
  expect(await given).toBeUndefined();
});

test("retrying: giveUp turns a failure retrying cannot fix into the error thrown, after the tries it allows", async () => {
  let calls = 0;
  const attempt = async () => {
    calls++;
    throw new Error("refused");
  };
  const given = retrying(attempt, {
    backoffMsMin: 1,
    backoffMsMax: 2,
    signal: new AbortController().signal,
    isFatal: () => false,
    giveUp: (error, failures) =>
      failures >= 3 ? new Error(`gave up after ${failures}: ${(error as Error).message}`) : undefined,
    onFailure: () => {},
  });
  await expect(given).rejects.toThrow("gave up after 3: refused");
  expect(calls).toBe(3);
});
