// Consumer lag per partition for the dashboard: the topic's end offsets
// (high watermarks) minus the worker group's committed offsets. One admin
// client is kept open and reused, so polling never opens a connection per
// call; after a failure it is closed and the next read opens a new one.
import type { Admin } from "@platformatic/kafka";
import { openAdmin, readCommittedOffsets, readEndOffsets } from "../../kafka/admin.ts";
import type { KafkaConnection } from "../../kafka/client.ts";
import { withTimeout } from "../../runtime/timeout.ts";

/** Longest wait for Kafka's offsets in one dashboard read, milliseconds. */
export const lagTimeoutMs = 2000;

export interface PartitionLag {
  partition: number;
  /** The next offset to be written (high watermark), as a decimal string. */
  endOffset: string;
  /** The group's committed offset, as a decimal string; null before its first commit. */
  committedOffset: string | null;
  /** Messages written but not yet committed by the group. */
  lag: number;
}

export interface LagReading {
  partitions: PartitionLag[];
  /** The committed offsets as read, for the commit rate. */
  committed: Map<number, bigint>;
}

export class LagReader {
  #admin: Admin | undefined;

  constructor(
    readonly connection: KafkaConnection,
    readonly topic: string,
    readonly groupId: string,
  ) {}

  async read(): Promise<LagReading> {
    this.#admin ??= openAdmin({ ...this.connection, timeoutMs: lagTimeoutMs });
    const admin = this.#admin;
    try {
      const [ends, committed] = await withTimeout(
        Promise.all([readEndOffsets(admin, this.topic), readCommittedOffsets(admin, this.groupId, this.topic)]),
        lagTimeoutMs,
        `Kafka offsets of ${this.topic}`,
      );
      if (ends.size === 0) throw new Error(`topic ${this.topic} has no partitions`);
      return { partitions: lagOf(ends, committed), committed };
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.close().catch(() => {});
  }
}

/**
 * Per partition, in partition order. Without a committed offset the group
 * has not consumed the partition yet: all of it is lag (the topic keeps its
 * whole log here; a trimmed log would count what retention removed too).
 */
export function lagOf(ends: Map<number, bigint>, committed: Map<number, bigint>): PartitionLag[] {
  return [...ends.entries()]
    .sort(([a], [b]) => a - b)
    .map(([partition, endOffset]) => {
      const done = committed.get(partition);
      const lag = endOffset - (done ?? 0n);
      return {
        partition,
        endOffset: endOffset.toString(),
        committedOffset: done === undefined ? null : done.toString(),
        lag: Number(lag > 0n ? lag : 0n),
      };
    });
}
