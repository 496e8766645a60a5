// The dead letters an operator can act on: the rejected messages (from the
// rejections table, newest first) with what the dead-letter topic holds for
// each (the original message, whole or cut, or nothing once past the
// topic's retention), the id's state now and its latest replay; and the
// dead letters that carry no transaction id (no client got a 202 for them).
import type { KafkaConnection } from "../kafka/client.ts";
import type { Sql } from "../postgres/connection.ts";
import { type DeadLetterFilter, listRejectedMessages, type RejectedMessage } from "../postgres/dlq-replays.ts";
import { type DeadLetterRecord, readDeadLetters, sourceKey } from "./dead-letter-topic.ts";

export interface ListedDeadLetter extends RejectedMessage {
  /** What the dead-letter topic holds for it. */
  payload: "whole" | "cut" | "missing";
  /** The original message value as text (tab-separated, or JSON for version 1), when held. */
  value: string | null;
}

export interface TopicOnlyDeadLetter {
  dlqPartition: number;
  dlqOffset: string;
  sourcePartition: number | undefined;
  sourceOffset: string | undefined;
  reason: string | undefined;
  deadLetteredAt: string | undefined;
}

export interface DeadLetterList {
  deadLetters: ListedDeadLetter[];
  /** Dead letters without a transaction id, the first `limit` of them. */
  withoutId: TopicOnlyDeadLetter[];
  withoutIdCount: number;
}

export interface ListOptions {
  sql: Sql;
  connection: KafkaConnection;
  topic: string;
  dlqTopic: string;
  readGroupId: string;
  filter: DeadLetterFilter;
}

function listed(rejected: RejectedMessage, letter: DeadLetterRecord | undefined): ListedDeadLetter {
  if (letter === undefined) return { ...rejected, payload: "missing", value: null };
  return { ...rejected, payload: letter.cut === undefined ? "whole" : "cut", value: letter.value.toString("utf8") };
}

export async function listDeadLetters(options: ListOptions): Promise<DeadLetterList> {
  const rejected = await listRejectedMessages(options.sql, options.filter);
  const filtered = options.filter.reason !== undefined || (options.filter.ids?.length ?? 0) > 0;
  const read = await readDeadLetters({
    connection: options.connection,
    dlqTopic: options.dlqTopic,
    sourceTopic: options.topic,
    groupId: options.readGroupId,
    wanted: new Set(rejected.map((r) => sourceKey(r.partition, r.offset))),
    // A filter names rejections; dead letters without an id have none.
    withoutIdMax: filtered ? 0 : options.filter.limit,
  });
  const withoutId = read.withoutId.map(({ key: _key, value: _value, cut: _cut, ...rest }) => rest);
  return {
    deadLetters: rejected.map((r) => listed(r, read.bySource.get(sourceKey(r.partition, r.offset)))),
    withoutId,
    withoutIdCount: filtered ? 0 : read.withoutIdCount,
  };
}
