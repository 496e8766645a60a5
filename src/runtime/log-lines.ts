// The log lines other programs read (the benchmark, the tests), written and
// parsed here, in one place, so the format and its readers cannot drift apart:
//   worker: consuming T as group G, writing D
//   Message Received: N messages (B bytes) from partitions P in F ms   (F: batch fill time)
//   DB Committed: N rows (D already present, L dead-lettered) in W ms, PATH  (W: decode, write, offset commit)
//   Produce requests: R carrying M messages (… per request), answered in A ms on average   (the API, on stop)

export function workerReadyLine(topic: string, groupId: string, database: string): string {
  return `worker: consuming ${topic} as group ${groupId}, writing ${database}`;
}

export function isWorkerReadyLine(line: string): boolean {
  return /^worker: consuming /.test(line);
}

/** Where a worker's started line says its status port is (the benchmark reads /metrics there). */
export function workerPortText(port: number): string {
  return `/ready and /metrics on port ${port}`;
}

export function parseWorkerPort(line: string): number | undefined {
  const match = /\/ready and \/metrics on port (\d+)$/.exec(line);
  return match === null ? undefined : Number(match[1]);
}

export interface ReceivedLine {
  messages: number;
  bytes: number;
  partitions: number[];
  fillMs: number;
}

export function receivedLine({ messages, bytes, partitions, fillMs }: ReceivedLine): string {
  return `Message Received: ${messages} messages (${bytes} bytes) from partitions ${partitions.join(",")} in ${fillMs} ms`;
}

const receivedPattern = /Message Received: (\d+) messages \((\d+) bytes\) from partitions ([\d,]*) in (\d+) ms/;

export function parseReceivedLine(line: string): ReceivedLine | undefined {
  const match = receivedPattern.exec(line);
  if (!match) return undefined;
  return {
    messages: Number(match[1]),
    bytes: Number(match[2]),
    partitions: (match[3] as string).split(",").filter(Boolean).map(Number),
    fillMs: Number(match[4]),
  };
}

export interface CommittedLine {
  inserted: number;
  alreadyPresent: number;
  deadLettered: number;
  writeMs: number;
  path: "direct" | "staging";
}

export function committedLine({ inserted, alreadyPresent, deadLettered, writeMs, path }: CommittedLine): string {
  const how = path === "direct" ? "COPY into transactions" : "through staging";
  return `DB Committed: ${inserted} rows (${alreadyPresent} already present, ${deadLettered} dead-lettered) in ${writeMs} ms, ${how}`;
}

const committedPattern = /DB Committed: (\d+) rows \((\d+) already present, (\d+) dead-lettered\) in (\d+) ms, (.*)$/;

export function parseCommittedLine(line: string): CommittedLine | undefined {
  const match = committedPattern.exec(line);
  if (!match) return undefined;
  return {
    inserted: Number(match[1]),
    alreadyPresent: Number(match[2]),
    deadLettered: Number(match[3]),
    writeMs: Number(match[4]),
    path: match[5] === "COPY into transactions" ? "direct" : "staging",
  };
}

export interface ProduceSummary {
  requests: number;
  messages: number;
  answerMsMean: number;
}

export function produceSummaryLine({ requests, messages, answerMsMean }: ProduceSummary): string {
  const perRequest = requests === 0 ? 0 : messages / requests;
  return `Produce requests: ${requests} carrying ${messages} messages (${perRequest.toFixed(1)} per request), answered in ${answerMsMean.toFixed(2)} ms on average`;
}

const producePattern = /Produce requests: (\d+) carrying (\d+) messages .* answered in ([\d.]+) ms/;

export function parseProduceSummaryLine(line: string): ProduceSummary | undefined {
  const match = producePattern.exec(line);
  if (!match) return undefined;
  return { requests: Number(match[1]), messages: Number(match[2]), answerMsMean: Number(match[3]) };
}
