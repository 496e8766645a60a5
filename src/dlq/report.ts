// `bun run dlq`'s report as text for people: one line per dead letter, then
// what to do next.
import type { Config } from "../runtime/config.ts";
import type { DeadLetterList, ListedDeadLetter } from "./list.ts";
import type { ReplayItem } from "./replay.ts";

function state(d: ListedDeadLetter): string {
  if (d.stored) return "stored since (Completed)";
  const replay = d.lastReplay;
  if (replay !== null && replay.replayedAt > d.rejectedAt) return `replayed by ${replay.replayedBy}, pending`;
  return "rejected";
}

export function dlqText(list: DeadLetterList, config: Config): string {
  const lines = [
    `dead letters of ${config.topic} (rejections, newest first; dead-letter topic ${config.dlqTopic}): ${list.deadLetters.length} listed`,
    ...list.deadLetters.map(
      (d) =>
        `${d.transactionId}  ${d.reason}  ${d.rejectedAt}  partition ${d.partition} offset ${d.offset}  ${state(d)}  message in topic: ${d.payload}\n    ${d.message}`,
    ),
  ];
  if (list.withoutIdCount > 0) {
    lines.push(
      `${list.withoutIdCount} dead letters carry no transaction id (not written by txlog's API; not replayable):`,
    );
    for (const d of list.withoutId) {
      lines.push(
        `  dlq offset ${d.dlqOffset}  from partition ${d.sourcePartition} offset ${d.sourceOffset}  ${d.reason}`,
      );
    }
  }
  if (list.deadLetters.some((d) => state(d) === "rejected")) {
    lines.push("after fixing the cause: bun run dlq replay --id ID (or --reason R) --by NAME [--dry-run]");
  }
  return lines.join("\n");
}

export function replayText(items: ReplayItem[], command: { dryRun: boolean; replayedBy: string | undefined }): string {
  if (items.length === 0) return "no rejected transaction matches: nothing to replay";
  const count = (outcome: ReplayItem["outcome"]) => items.filter((i) => i.outcome === outcome).length;
  return [
    ...items.map(
      (i) =>
        `${i.outcome}: ${i.transactionId} (${i.reason}, partition ${i.sourcePartition} offset ${i.sourceOffset}) ${i.detail}`,
    ),
    command.dryRun
      ? `dry run: ${count("would replay")} would be replayed, ${count("skipped")} skipped`
      : `${count("replayed")} replayed by ${command.replayedBy}, ${count("skipped")} skipped`,
  ].join("\n");
}
