import { expect, test } from "bun:test";
import { OwnershipError, PartitionOwnership } from "../../src/pipeline/ownership.ts";

test("messages of owned partitions are new once; repeats after a refetch are recognised", () => {
  const ownership = new PartitionOwnership();
  ownership.assign(1, [0, 1]);
  expect(ownership.accept(0, 10n, 1)).toBe("new");
  expect(ownership.accept(0, 11n, 1)).toBe("new");
  // After a rebalance the stream fetches again from the committed offset.
  expect(ownership.accept(0, 10n, 1)).toBe("repeat");
  expect(ownership.accept(2, 0n, 1)).toBe("stale");
});

test("a partition kept through consecutive generations stays owned; one lost is stale", () => {
  const ownership = new PartitionOwnership();
  ownership.assign(1, [0, 1]);
  expect(ownership.accept(0, 5n, 1)).toBe("new");
  ownership.assign(2, [0]);
  expect(ownership.ownsSince(0, 1)).toBe(true);
  expect(ownership.accept(0, 5n, 2)).toBe("repeat");
  expect(ownership.accept(0, 6n, 1)).toBe("new");
  // Partition 1 went to another worker: what was fetched for it is not ours.
  expect(ownership.ownsSince(1, 1)).toBe(false);
  expect(ownership.accept(1, 0n, 1)).toBe("stale");
});

test("a partition lost and regained is a new ownership: earlier fetches are stale, nothing carried over", () => {
  const ownership = new PartitionOwnership();
  ownership.assign(1, [0]);
  ownership.accept(0, 100n, 1);
  ownership.committed(0, 101n);
  ownership.assign(2, []);
  ownership.assign(3, [0]);
  expect(ownership.ownsSince(0, 1)).toBe(false);
  expect(ownership.accept(0, 150n, 1)).toBe("stale");
  // The other owner may have committed less than we had: a lower offset is fine now.
  expect(ownership.accept(0, 50n, 3)).toBe("new");
  expect(ownership.committedOffset(0)).toBeUndefined();
  expect(() => ownership.checkForward(0, 51n)).not.toThrow();
});

test("a gap in generations (this worker was out of the group) breaks every ownership", () => {
  const ownership = new PartitionOwnership();
  ownership.assign(4, [0, 1]);
  ownership.assign(6, [0, 1]);
  expect(ownership.ownsSince(0, 4)).toBe(false);
  expect(ownership.ownsSince(0, 6)).toBe(true);
});

test("offsets only move forward, and never past what was read", () => {
  const ownership = new PartitionOwnership();
  ownership.assign(1, [0]);
  ownership.accept(0, 9n, 1);
  ownership.committed(0, 10n);
  expect(() => ownership.checkForward(0, 10n)).toThrow(OwnershipError);
  expect(() => ownership.checkForward(0, 5n)).toThrow(OwnershipError);
  ownership.accept(0, 10n, 1);
  expect(() => ownership.checkForward(0, 11n)).not.toThrow();
  expect(() => ownership.checkForward(0, 12n)).toThrow(OwnershipError);
  expect(() => ownership.checkForward(1, 1n)).toThrow(OwnershipError);
});

test("after reset (a failed consumer replaced), messages read again from the committed offset are new, even in the next generation", () => {
  const ownership = new PartitionOwnership();
  ownership.assign(1, [0]);
  // Batched but never written: the failed consumer's batch is dropped.
  expect(ownership.accept(0, 10n, 1)).toBe("new");
  expect(ownership.accept(0, 11n, 1)).toBe("new");
  ownership.reset();
  expect(ownership.generation).toBeUndefined();
  // The new consumer joins in the very next generation: without the reset
  // these would be "repeat" and skipped, and a later commit would pass them.
  ownership.assign(2, [0]);
  expect(ownership.accept(0, 10n, 2)).toBe("new");
  expect(ownership.ownsSince(0, 1)).toBe(false);
});
