// Which partitions this worker owns, since which consumer-group generation,
// and how far it has read and committed each. The worker consults it to drop
// messages a rebalance made stale and to never commit an offset for a
// partition it lost (or lost and got back) while the batch was being written.
//
// Why a message can be stale: the messages stream keeps what it already
// fetched across a rebalance, and after one it fetches again from the group's
// committed offset. So the worker may see messages of a partition it no longer
// owns, and offsets it has already batched. Dropping them is safe: the
// committed offset never passes a message that is not written, so the owner
// reads them again.
//
// Pure: no Kafka here; the worker feeds it group joins and messages.

export class OwnershipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OwnershipError";
  }
}

export type Verdict =
  /** New work: the partition is ours since before the message was fetched, and the offset is new. */
  | "new"
  /** Fetched before a rebalance that took the partition away (or for a partition not ours). */
  | "stale"
  /** Already batched in this ownership: the stream fetched it again after a rebalance. */
  | "repeat";

interface Owned {
  /** Generation from which the partition has been ours without a break. */
  sinceGeneration: number;
  /** Offset after the last accepted message; undefined until one is accepted. */
  nextOffset?: bigint;
  /** Last offset committed in this ownership. */
  committedOffset?: bigint;
}

export class PartitionOwnership {
  #generation: number | undefined;
  #owned = new Map<number, Owned>();

  get generation(): number | undefined {
    return this.#generation;
  }

  /**
   * The group assigned `partitions` in `generation`. A partition kept from the
   * directly preceding generation stays owned without a break; after a gap in
   * generations (this worker was out of the group for a while) nothing is
   * assumed continuous, since another member may have owned everything.
   */
  assign(generation: number, partitions: Iterable<number>): void {
    // The same generation again is the same assignment reported twice.
    const continuous =
      this.#generation !== undefined && (generation === this.#generation + 1 || generation === this.#generation);
    const next = new Map<number, Owned>();
    for (const partition of partitions) {
      const kept = continuous ? this.#owned.get(partition) : undefined;
      next.set(partition, kept ?? { sinceGeneration: generation });
    }
    this.#owned = next;
    this.#generation = generation;
  }

  /**
   * Forgets everything: the consumer failed and a new one replaces it. The
   * next assignment starts afresh even if its generation directly follows
   * ours: the new consumer reads again from the committed offsets, and those
   * messages must be judged "new", not "repeat" of ones never written.
   */
  reset(): void {
    this.#generation = undefined;
    this.#owned = new Map();
  }

  /** Judges a message fetched in `fetchedGeneration`; accepting it moves the partition's read position. */
  accept(partition: number, offset: bigint, fetchedGeneration: number): Verdict {
    const owned = this.#owned.get(partition);
    if (owned === undefined || fetchedGeneration < owned.sinceGeneration) return "stale";
    if (owned.nextOffset !== undefined && offset < owned.nextOffset) return "repeat";
    owned.nextOffset = offset + 1n;
    return "new";
  }

  /**
   * True when the partition has been ours without a break since
   * `fetchedGeneration`: committing for it cannot overwrite another owner's
   * progress.
   */
  ownsSince(partition: number, fetchedGeneration: number): boolean {
    const owned = this.#owned.get(partition);
    return owned !== undefined && owned.sinceGeneration <= fetchedGeneration;
  }

  /** The last offset committed for the partition in this ownership. */
  committedOffset(partition: number): bigint | undefined {
    return this.#owned.get(partition)?.committedOffset;
  }

  /** Asserts that committing `offset` moves the partition forward (call before committing). */
  checkForward(partition: number, offset: bigint): void {
    const owned = this.#owned.get(partition);
    if (owned === undefined) throw new OwnershipError(`commit for partition ${partition}, which is not owned`);
    if (owned.committedOffset !== undefined && offset <= owned.committedOffset) {
      throw new OwnershipError(
        `offset of partition ${partition} would move from ${owned.committedOffset} to ${offset}: offsets only move forward`,
      );
    }
    if (owned.nextOffset !== undefined && offset > owned.nextOffset) {
      throw new OwnershipError(
        `commit of ${offset} on partition ${partition} is past the read position ${owned.nextOffset}`,
      );
    }
  }

  /**
   * Records a commit the broker acknowledged. A rebalance may have taken the
   * partition while the commit was in flight: then there is nothing to record.
   */
  committed(partition: number, offset: bigint): void {
    const owned = this.#owned.get(partition);
    if (owned === undefined) return;
    if (owned.committedOffset === undefined || offset > owned.committedOffset) owned.committedOffset = offset;
  }
}
