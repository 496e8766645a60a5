// The consume loop alone: a Node stream stands in for the Kafka messages
// stream and the test's own handler for the batch writer, so the ordering
// rules are checked without a broker or a database.
import { expect, test } from "bun:test";
import { Readable } from "node:stream";
import type { KafkaMessage, KafkaStream, PartitionOffset } from "../../src/kafka/client.ts";
import type { Batch } from "../../src/pipeline/batcher.ts";
import {
  type BatchHandler,
  ConsumerFailedError,
  newConsumeStats,
  startConsumeLoop,
} from "../../src/pipeline/consume-loop.ts";
import { PartitionOwnership } from "../../src/pipeline/ownership.ts";
import { silentLog } from "../support/logs.ts";
import { eventually } from "../support/run.ts";

const generation = 1;

function message(partition: number, offset: bigint): KafkaMessage {
  return {
    topic: "t",
    partition,
    offset,
    leaderEpoch: 0,
    key: Buffer.from("k"),
    value: Buffer.from("v"),
    headers: new Map(),
    timestamp: 0n,
    metadata: { consumer: { generationId: generation } },
    commit: () => {},
  } as unknown as KafkaMessage;
}

/** An object-mode stream the test pushes messages into, as the client's stream buffers fetched ones. */
function fakeStream() {
  const stream = new Readable({ objectMode: true, read() {} });
  return { stream, kafkaStream: stream as unknown as KafkaStream };
}

/** A handler whose writes finish only when the test says so, batch by batch. */
function controlledHandler() {
  /** Resolve with true: written; false: abandoned unwritten (as a write cut short by stop). */
  const writes: Array<PromiseWithResolvers<boolean>> = [];
  const started: Array<Batch<KafkaMessage>> = [];
  const committedBatches: number[] = [];
  const handler: BatchHandler<Batch<KafkaMessage>, number> = {
    prepare: async (batch) => batch,
    async write(batch) {
      const index = started.length;
      started.push(batch);
      const deferred = Promise.withResolvers<boolean>();
      writes.push(deferred);
      return (await deferred.promise) ? index : undefined;
    },
    committed(_batch, index) {
      committedBatches.push(index);
    },
  };
  return { handler, writes, started, committedBatches };
}

function startLoop(writesInFlightMax: number) {
  const { stream, kafkaStream } = fakeStream();
  const ownership = new PartitionOwnership();
  ownership.assign(generation, [0, 1]);
  const commits: PartitionOffset[][] = [];
  const controlled = controlledHandler();
  const stats = newConsumeStats();
  const loop = startConsumeLoop({
    stream: kafkaStream,
    topic: "t",
    ownership,
    // Two messages close a batch.
    limits: { rowsMax: 2, bytesMax: 1 << 20, lingerMs: 10_000 },
    writesInFlightMax,
    handler: controlled.handler,
    commitOffsets: async (offsets) => {
      commits.push(offsets);
    },
    stats,
    log: silentLog,
  });
  return { stream, loop, commits, stats, ...controlled };
}

test("with two writes in flight, the second batch's offset waits until the first is written and committed", async () => {
  const { stream, loop, commits, writes, started, committedBatches } = startLoop(2);
  for (const offset of [0n, 1n, 2n, 3n]) stream.push(message(0, offset));
  await eventually(async () => (started.length === 2 ? true : undefined), 2000, "both writes started");

  // The later batch finishes first: nothing may be committed yet.
  writes[1]?.resolve(true);
  await Bun.sleep(50);
  expect(commits).toEqual([]);
  expect(committedBatches).toEqual([]);

  writes[0]?.resolve(true);
  await eventually(async () => (commits.length === 2 ? true : undefined), 2000, "both commits");
  expect(commits.map((offsets) => offsets.map((o) => o.offset))).toEqual([[2n], [4n]]);
  expect(committedBatches).toEqual([0, 1]);
  await loop.stop();
});

test("after a batch abandoned unwritten on stop, no later batch is committed", async () => {
  const { stream, loop, commits, writes, started } = startLoop(2);
  for (const offset of [0n, 1n, 2n, 3n]) stream.push(message(1, offset));
  await eventually(async () => (started.length === 2 ? true : undefined), 2000, "both writes started");
  const stopped = loop.stop();
  writes[1]?.resolve(true);
  writes[0]?.resolve(false);
  await stopped;
  // Committing batch 2 would move the offset past batch 1's unwritten messages.
  expect(commits).toEqual([]);
});

test("the stream's error ends the loop with a ConsumerFailedError naming it", async () => {
  const { stream, loop } = startLoop(1);
  stream.destroy(new Error("connection closed"));
  await expect(loop.done).rejects.toBeInstanceOf(ConsumerFailedError);
  await expect(loop.done).rejects.toThrow("connection closed");
});

test("when the consumer fails, the write in flight finishes uncommitted, the open batch is dropped, nothing more is read", async () => {
  const { stream, loop, commits, writes, started, committedBatches, stats } = startLoop(1);
  // Batch 0 is written; batch 1 waits for a write slot; message 4 fills batch 2.
  for (const offset of [0n, 1n, 2n, 3n, 4n]) stream.push(message(0, offset));
  await eventually(async () => (started.length === 1 ? true : undefined), 2000, "the first write started");
  loop.fail(new Error("rejoin failed"));
  writes[0]?.resolve(true);
  await expect(loop.done).rejects.toBeInstanceOf(ConsumerFailedError);
  // Written (the handler is told), but no offset moves through the failed consumer: it is read again.
  expect(commits).toEqual([]);
  expect(committedBatches).toEqual([0]);
  expect(started.length).toBe(1);
  expect(stats.commitsSkipped).toBe(1);
  expect(stats.dropped).toBeGreaterThan(0);
});
