// The benchmark's CPU accounting from /proc: pure parts and one real process.
import { expect, test } from "bun:test";
import { cpuSeconds, groupCpuDelta } from "../../bench/procstat.ts";

test("a group's CPU delta counts all of a process that started between the reads, and the growth of the others", () => {
  const before = new Map([
    [10, 5.0],
    [11, 2.0],
  ]);
  const after = new Map([
    [10, 6.5], // +1.5
    [12, 0.75], // new: a connection opened during the phase
  ]);
  // 11 exited in between: its time cannot be read any more.
  expect(groupCpuDelta(before, after)).toBeCloseTo(2.25, 10);
});

test("cpuSeconds reads this process's own CPU time, and it grows with work", () => {
  const first = cpuSeconds(process.pid);
  expect(first).toBeGreaterThan(0);
  const until = performance.now() + 200;
  let spin = 0;
  while (performance.now() < until) spin++;
  expect(spin).toBeGreaterThan(0);
  expect(cpuSeconds(process.pid) as number).toBeGreaterThan(first as number);
});
