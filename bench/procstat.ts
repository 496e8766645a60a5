// CPU time and memory of processes, read from Linux's /proc: utime + stime of
// /proc/<pid>/stat (clock ticks) and VmHWM (peak resident set) of
// /proc/<pid>/status. Read at the start and end of a phase; the difference is
// the CPU the phase cost. A process that is gone reads as undefined.
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (sysconf(_SC_CLK_TCK)). */
export const clockTicksPerSecond = (() => {
  try {
    const out = Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim();
    const ticks = Number(out);
    return Number.isSafeInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

export interface ProcessSample {
  pid: number;
  /** User plus system CPU time so far, seconds. */
  cpuSeconds: number;
  /** Peak resident set so far (VmHWM), bytes. */
  peakRssBytes: number;
  /** Resident set now (VmRSS), bytes. */
  rssBytes: number;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** CPU seconds of `pid` so far; fields after the name start at field 3 (state), so utime is [11], stime [12]. */
export function cpuSeconds(pid: number): number | undefined {
  const fields = statFields(pid);
  if (fields === undefined) return undefined;
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

function statusKilobytes(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
  return match ? Number(match[1]) : 0;
}

export function sampleProcess(pid: number): ProcessSample | undefined {
  const cpu = cpuSeconds(pid);
  if (cpu === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return {
      pid,
      cpuSeconds: cpu,
      peakRssBytes: statusKilobytes(status, "VmHWM") * 1024,
      rssBytes: statusKilobytes(status, "VmRSS") * 1024,
    };
  } catch {
    return undefined;
  }
}

/** Processes whose command name or command line matches: PostgreSQL backends, the Kafka broker. */
export function findProcesses(match: (comm: string, cmdline: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\u0000", " ");
      if (match(comm, cmdline)) pids.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

/** CPU seconds of a group of processes by pid; processes that exit between reads drop out. */
export function groupCpuSeconds(pids: number[]): Map<number, number> {
  const result = new Map<number, number>();
  for (const pid of pids) {
    const cpu = cpuSeconds(pid);
    if (cpu !== undefined) result.set(pid, cpu);
  }
  return result;
}

/**
 * CPU used by a group between two reads, seconds. A process only in the second
 * read started in between (a database connection the worker opened during the
 * phase): all its CPU counts. One that exited in between is lost: its time
 * shows as "anything else".
 */
export function groupCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}

export interface MachineCpu {
  /** Busy and total jiffies of all CPUs, from the "cpu" line of /proc/stat. */
  busy: number;
  total: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] as string;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  // idle + iowait are not busy.
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU seconds the whole machine was busy between two reads (all CPUs together). */
export function machineBusySeconds(before: MachineCpu, after: MachineCpu): number {
  return (after.busy - before.busy) / clockTicksPerSecond;
}

/** Share of the machine's CPU time that was busy between two reads, 0..1. */
export function machineBusyShare(before: MachineCpu, after: MachineCpu): number {
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : 0;
}
