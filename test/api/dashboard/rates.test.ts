import { expect, test } from "bun:test";
import { CommitRate, chartSeconds, IngestRate } from "../../../src/api/dashboard/rates.ts";

const t0 = 1_800_000_000_000;

test("ingest: counts per second, forgets a bucket the ring reused, and reads 0 outside the ring", () => {
  const ingest = new IngestRate(10);
  ingest.record(1, t0);
  ingest.record(2, t0 + 999);
  ingest.record(5, t0 + 1000);
  const s = t0 / 1000;
  expect(ingest.series([s - 1, s, s + 1, s + 2])).toEqual([0, 3, 5, 0]);
  // Ten seconds later the same slot holds a new second: the old count is gone.
  ingest.record(7, t0 + 10_000);
  expect(ingest.series([s, s + 10])).toEqual([0, 7]);
});

test("chart seconds end with the last complete second", () => {
  expect(chartSeconds(3, t0 + 500)).toEqual([t0 / 1000 - 3, t0 / 1000 - 2, t0 / 1000 - 1]);
});

test("commit: the offsets advanced between samples spread over the seconds between them, per partition", () => {
  const commits = new CommitRate(60);
  const s = t0 / 1000;
  commits.add({ atMs: t0, offsets: new Map([[0, 10n]]) });
  // Partition 1 appears only now: its first commit is not counted (where it started is unknown).
  commits.add({
    atMs: t0 + 2000,
    offsets: new Map([
      [0, 30n],
      [1, 5n],
    ]),
  });
  commits.add({
    atMs: t0 + 3000,
    offsets: new Map([
      [0, 30n],
      [1, 8n],
    ]),
  });
  expect(commits.series([s, s + 1, s + 2, s + 3, s + 4])).toEqual([null, 10, 10, 3, null]);
});

test("commit: an offset that moved back (a reset group) gives no rate, not a negative one", () => {
  const commits = new CommitRate(60);
  const s = t0 / 1000;
  commits.add({ atMs: t0, offsets: new Map([[0, 100n]]) });
  commits.add({ atMs: t0 + 1000, offsets: new Map([[0, 40n]]) });
  commits.add({ atMs: t0 + 2000, offsets: new Map([[0, 50n]]) });
  expect(commits.series([s + 1, s + 2])).toEqual([null, 10]);
});

test("commit: one sample per second and none older than the window are kept", () => {
  const commits = new CommitRate(5);
  for (let ms = 0; ms <= 20_000; ms += 250) commits.add({ atMs: t0 + ms, offsets: new Map([[0, BigInt(ms)]]) });
  const s = t0 / 1000;
  const seconds = Array.from({ length: 21 }, (_, i) => s + i);
  const series = commits.series(seconds);
  // Offsets advance 1000 a second; only the last 5 seconds have a rate.
  expect(series.slice(0, 16).every((v) => v === null)).toBe(true);
  expect(series.slice(16)).toEqual([1000, 1000, 1000, 1000, 1000]);
});
