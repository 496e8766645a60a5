// Replaying dead letters once their cause is fixed: the latest rejected
// message of each chosen id is produced again to the transactions topic,
// re-encoded through the current codec (so a rule fixed since can accept
// it) and under its original transaction id and acceptance time, so the
// worker's write stays idempotent: a replay of an id already stored leaves
// one row. Each replay is recorded (who, what, from where, to where) once
// Kafka acknowledged it.
import { type KafkaConnection, type KafkaProducer, produce } from "../kafka/client.ts";
import type { Sql } from "../postgres/connection.ts";
import {
  type DeadLetterFilter,
  isStored,
  latestRejectedMessages,
  type RejectedMessage,
  recordReplay,
} from "../postgres/dlq-replays.ts";
import { decodeMessage, encodeMessage } from "../transaction/message.ts";
import { type AcceptedTransaction, describeErrors } from "../transaction/rules.ts";
import { type DeadLetterRecord, readDeadLetters, sourceKey } from "./dead-letter-topic.ts";

/** Headers a replayed message carries, for whoever reads the topic. */
export const replayHeaders = { replayOf: "txlog-replay-of", replayedBy: "txlog-replayed-by" } as const;

export interface ReplayOptions {
  sql: Sql;
  producer: KafkaProducer;
  connection: KafkaConnection;
  topic: string;
  dlqTopic: string;
  /** Throwaway group for reading the dead-letter topic. */
  readGroupId: string;
  filter: DeadLetterFilter;
  replayedBy: string;
  dryRun: boolean;
}

export interface ReplayItem {
  transactionId: string;
  reason: string;
  sourcePartition: number;
  sourceOffset: string;
  outcome: "replayed" | "would replay" | "skipped";
  /** Why it was skipped, or where it went. */
  detail: string;
  targetPartition?: number;
  targetOffset?: string;
}

export async function replayDeadLetters(options: ReplayOptions): Promise<ReplayItem[]> {
  const candidates = await latestRejectedMessages(options.sql, options.filter);
  const wanted = new Set(candidates.map((c) => sourceKey(c.partition, c.offset)));
  const letters =
    wanted.size === 0
      ? new Map<string, DeadLetterRecord>()
      : (
          await readDeadLetters({
            connection: options.connection,
            dlqTopic: options.dlqTopic,
            sourceTopic: options.topic,
            groupId: options.readGroupId,
            wanted,
            withoutIdMax: 0,
          })
        ).bySource;
  const items: ReplayItem[] = [];
  for (const candidate of candidates) {
    items.push(await replayOne(options, candidate, letters.get(sourceKey(candidate.partition, candidate.offset))));
  }
  return items;
}

/** Why `candidate` cannot be replayed now, or the value to replay. */
function judge(
  candidate: RejectedMessage,
  letter: DeadLetterRecord | undefined,
): { skip: string } | { transaction: AcceptedTransaction } {
  if (candidate.stored) return { skip: "already stored: nothing to replay" };
  const replay = candidate.lastReplay;
  if (replay !== null && replay.replayedAt > candidate.rejectedAt) {
    return {
      skip: `replayed by ${replay.replayedBy} at ${replay.replayedAt} (partition ${replay.targetPartition} offset ${replay.targetOffset}), not yet stored or rejected again`,
    };
  }
  if (letter === undefined) {
    return { skip: "its dead letter is not in the dead-letter topic (past its retention?): nothing to replay from" };
  }
  if (letter.cut !== undefined) return { skip: `its dead letter was cut to fit the topic (${letter.cut}): incomplete` };
  const decoded = decodeMessage(letter.value);
  if (!decoded.ok) return { skip: `the current rules still refuse it: ${describeErrors(decoded.errors)}` };
  if (decoded.value.transactionId !== candidate.transactionId) {
    return { skip: `its dead letter carries id ${decoded.value.transactionId}, not the rejected one` };
  }
  return { transaction: decoded.value };
}

async function replayOne(
  options: ReplayOptions,
  candidate: RejectedMessage,
  letter: DeadLetterRecord | undefined,
): Promise<ReplayItem> {
  const item = {
    transactionId: candidate.transactionId,
    reason: candidate.reason,
    sourcePartition: candidate.partition,
    sourceOffset: candidate.offset,
  };
  const verdict = judge(candidate, letter);
  if ("skip" in verdict) return { ...item, outcome: "skipped", detail: verdict.skip };
  if (options.dryRun) return { ...item, outcome: "would replay", detail: `to ${options.topic}` };
  // Stored since the list was read (another replay, a late write): skip rather than write again.
  if (await isStored(options.sql, candidate.transactionId)) {
    return { ...item, outcome: "skipped", detail: "already stored: nothing to replay" };
  }
  const { transaction } = verdict;
  const result = await produce(options.producer, [
    {
      topic: options.topic,
      // As the API keys it: one account's transactions share a partition.
      key: Buffer.from(transaction.nameOrig, "latin1"),
      value: encodeMessage(transaction),
      headers: {
        [replayHeaders.replayOf]: sourceKey(candidate.partition, candidate.offset),
        [replayHeaders.replayedBy]: options.replayedBy,
      },
    },
  ]);
  const target = result.offsets?.[0];
  if (target === undefined)
    throw new Error(`Kafka acknowledged the replay of ${candidate.transactionId} without an offset`);
  const targetOffset = target.offset.toString();
  await recordReplay(options.sql, {
    replayedBy: options.replayedBy,
    transactionId: candidate.transactionId,
    sourcePartition: candidate.partition,
    sourceOffset: candidate.offset,
    reason: candidate.reason,
    targetTopic: options.topic,
    targetPartition: target.partition,
    targetOffset,
  });
  return {
    ...item,
    outcome: "replayed",
    detail: `to ${options.topic} partition ${target.partition} offset ${targetOffset}`,
    targetPartition: target.partition,
    targetOffset,
  };
}
