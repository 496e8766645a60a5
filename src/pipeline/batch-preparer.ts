// The worker's CPU work on a closed batch, done while PostgreSQL still writes
// the previous one: each message checked, and the batch's COPY text built. A
// well-formed version 2 or 3 value goes into the text as its own bytes
// (src/postgres/copy-lines.ts); anything else is decoded, and either encoded
// as a line or rejected with its reason. The rows themselves are decoded only
// when a write must name them (batch-writer.ts, copy-writer.ts).
import type { KafkaMessage } from "../kafka/client.ts";
import { CopyLinesBuilder } from "../postgres/copy-lines.ts";
import type { Rejection } from "../postgres/rejections.ts";
import { type ConsumedTransaction, copyLine } from "../postgres/stored-row.ts";
import { copyReadyKeyLength, decodeMessage, messageApiKeyId, messageTransactionId } from "../transaction/message.ts";
import { describeErrors } from "../transaction/rules.ts";
import type { Batch } from "./batcher.ts";
import { type EncodedRows, WriteInvariantError } from "./copy-writer.ts";
import type { DeadLetter } from "./dead-letters.ts";

/** Messages decoded between two yields to the event loop. */
const prepareSliceMessages = 500;

export interface PreparedBatch {
  batch: Batch<KafkaMessage>;
  /** Final statuses of the messages that can never be written and carry an id. */
  rejections: Rejection[];
  /** The rows to write as COPY text, ahead of the write; decoded only if they must be named. */
  rows: EncodedRows;
  letters: DeadLetter[];
  /** The message a decoded row came from (for dead-lettering a row PostgreSQL refuses). */
  sourceOf(row: ConsumedTransaction): KafkaMessage;
}

/**
 * Checks a batch and encodes its COPY text: the worker's CPU work, done
 * while PostgreSQL is still writing the previous batch. A well-formed
 * version 2 or 3 value goes into the COPY text as the bytes it arrived as
 * (copy-lines.ts); anything else is decoded, and written or rejected.
 */
export async function prepareBatch(batch: Batch<KafkaMessage>): Promise<PreparedBatch> {
  const text = new CopyLinesBuilder();
  const rowMessages: KafkaMessage[] = [];
  const letters: DeadLetter[] = [];
  const rejections: Rejection[] = [];
  for (const [index, message] of batch.items.entries()) {
    // Yield now and then, so the previous batch's database replies are read
    // as they arrive instead of after the whole batch is decoded.
    if (index > 0 && index % prepareSliceMessages === 0) await new Promise((resolve) => setImmediate(resolve));
    const value = message.value;
    // Version 2 and 3 values are ASCII: latin1 maps each byte to one character.
    const keyLength = value !== undefined && value.length > 0 ? copyReadyKeyLength(value.toString("latin1")) : -1;
    if (keyLength >= 0) {
      text.addMessage(value as Buffer, keyLength, message.partition, message.offset);
      rowMessages.push(message);
      continue;
    }
    const decoded = decodeMessage(value);
    if (!decoded.ok) {
      const reason = describeErrors(decoded.errors);
      letters.push({ message, reason });
      const transactionId = messageTransactionId(message.value);
      if (transactionId !== undefined) {
        rejections.push({
          transactionId,
          reason: "invalid_message",
          message: reason,
          errors: decoded.errors,
          partition: message.partition,
          offset: message.offset,
          apiKeyId: messageApiKeyId(message.value),
        });
      }
      continue;
    }
    text.addLine(copyLine({ transaction: decoded.value, partition: message.partition, offset: message.offset }));
    rowMessages.push(message);
  }
  if (text.lines !== rowMessages.length) {
    throw new WriteInvariantError(`${text.lines} COPY lines for ${rowMessages.length} rows`);
  }
  const sources = new Map<ConsumedTransaction, KafkaMessage>();
  let decodedRows: ConsumedTransaction[] | undefined;
  const rows: EncodedRows = {
    count: rowMessages.length,
    text: text.finish(),
    rows: () => {
      decodedRows ??= decodeRows(rowMessages, sources);
      return decodedRows;
    },
  };
  return {
    batch,
    rows,
    letters,
    rejections,
    sourceOf: (row) => {
      const message = sources.get(row);
      if (message === undefined) throw new WriteInvariantError("a row of no message in its batch");
      return message;
    },
  };
}

/** The rows of messages prepare() took as rows, decoded, each noted with its message in `sources`. */
function decodeRows(messages: KafkaMessage[], sources: Map<ConsumedTransaction, KafkaMessage>): ConsumedTransaction[] {
  return messages.map((message) => {
    const decoded = decodeMessage(message.value);
    // Every message here passed copyReadyKeyLength (stricter than decodeMessage) or decodeMessage itself.
    if (!decoded.ok) throw new WriteInvariantError(`a message taken as a row no longer decodes: ${message.offset}`);
    const row: ConsumedTransaction = {
      transaction: decoded.value,
      partition: message.partition,
      offset: message.offset,
    };
    sources.set(row, message);
    return row;
  });
}
