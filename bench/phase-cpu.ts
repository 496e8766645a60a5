// CPU and memory of a measured phase: samples of the run's own processes,
// of PostgreSQL's and Kafka's, and of the whole machine, taken before and
// after the phase, and the figures of their difference.
import {
  findProcesses,
  groupCpuDelta,
  groupCpuSeconds,
  type MachineCpu,
  machineBusySeconds,
  machineBusyShare,
  machineCpu,
  type ProcessSample,
  sampleProcess,
} from "./procstat.ts";
import type { ProcessFigures } from "./report.ts";

export interface PhaseSamples {
  processes: Map<string, ProcessSample | undefined>;
  postgres: Map<number, number>;
  kafka: Map<number, number>;
  machine: MachineCpu;
}

export interface PhaseFigures {
  processes: Record<string, ProcessFigures>;
  postgresCpuSeconds: number;
  kafkaCpuSeconds: number;
  machineBusyShare: number;
  otherCpuSeconds: number;
}

// Looked up at every sample: PostgreSQL starts a backend per connection, so the set changes during a run.
const postgresPids = () => findProcesses((comm) => comm === "postgres" || comm.startsWith("postgres:"));
const kafkaPids = () => findProcesses((_, cmdline) => cmdline.includes("kafka.Kafka"));

/** CPU seconds of PostgreSQL's processes so far, each by pid: two samples' groupCpuDelta is what it spent between them. */
export function samplePostgresCpu(): Map<number, number> {
  return groupCpuSeconds(postgresPids());
}

/** Samples the named processes (name to pid; the figures keep this order), PostgreSQL, Kafka and the machine. */
export function samplePhase(pids: Record<string, number>): PhaseSamples {
  const processes = new Map<string, ProcessSample | undefined>();
  for (const [name, pid] of Object.entries(pids)) processes.set(name, sampleProcess(pid));
  return {
    processes,
    postgres: samplePostgresCpu(),
    kafka: groupCpuSeconds(kafkaPids()),
    machine: machineCpu(),
  };
}

/** What the phase cost between the two samples, per process and per row of the `rows` it handled. */
export function phaseFigures(before: PhaseSamples, after: PhaseSamples, rows: number): PhaseFigures {
  const processes: Record<string, ProcessFigures> = {};
  for (const [name, end] of after.processes) {
    const start = before.processes.get(name);
    if (end === undefined) continue;
    const cpuSeconds = end.cpuSeconds - (start?.cpuSeconds ?? 0);
    processes[name] = {
      cpuSeconds,
      cpuMicrosPerRow: rows > 0 ? (cpuSeconds * 1e6) / rows : 0,
      peakRssBytes: end.peakRssBytes,
    };
  }
  const postgresCpuSeconds = groupCpuDelta(before.postgres, after.postgres);
  const kafkaCpuSeconds = groupCpuDelta(before.kafka, after.kafka);
  const busySeconds = machineBusySeconds(before.machine, after.machine);
  const known = Object.values(processes).reduce((sum, f) => sum + f.cpuSeconds, postgresCpuSeconds + kafkaCpuSeconds);
  return {
    processes,
    postgresCpuSeconds,
    kafkaCpuSeconds,
    machineBusyShare: machineBusyShare(before.machine, after.machine),
    // Anything else that ran meanwhile (the kernel, other users' processes): a noisy neighbour shows here.
    otherCpuSeconds: Math.max(0, busySeconds - known),
  };
}
