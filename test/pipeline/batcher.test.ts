import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type Batch, Batcher, BatchLimitError } from "../../src/pipeline/batcher.ts";

describe("Batcher", () => {
  test("closes on rows: the item after rowsMax opens the next batch", () => {
    const batcher = new Batcher<number>({ rowsMax: 3, bytesMax: 1000, lingerMs: 100 });
    expect(batcher.add(1, 10, 0)).toBeUndefined();
    expect(batcher.add(2, 10, 1)).toBeUndefined();
    expect(batcher.add(3, 10, 2)).toBeUndefined();
    expect(batcher.isFull).toBe(true);
    const closed = batcher.add(4, 10, 3);
    expect(closed?.items).toEqual([1, 2, 3]);
    expect(closed?.closedBy).toBe("rows");
    expect(batcher.rows).toBe(1);
    expect(batcher.deadlineMs).toBe(103);
  });

  test("closes on bytes before the sum would pass bytesMax", () => {
    const batcher = new Batcher<string>({ rowsMax: 100, bytesMax: 100, lingerMs: 100 });
    batcher.add("a", 60, 0);
    const closed = batcher.add("b", 41, 5);
    expect(closed?.items).toEqual(["a"]);
    expect(closed?.bytes).toBe(60);
    expect(closed?.closedBy).toBe("bytes");
    expect(batcher.bytes).toBe(41);
    // Exactly at the limit fits, and the batch is then full.
    expect(batcher.add("c", 59, 6)).toBeUndefined();
    expect(batcher.isFull).toBe(true);
  });

  test("closes on linger time counted from the first item", () => {
    const batcher = new Batcher<number>({ rowsMax: 100, bytesMax: 1000, lingerMs: 50 });
    expect(batcher.deadlineMs).toBeUndefined();
    batcher.add(1, 1, 1000);
    batcher.add(2, 1, 1040);
    expect(batcher.isDue(1049)).toBe(false);
    expect(batcher.isDue(1050)).toBe(true);
    const batch = batcher.take(1050);
    expect(batch.closedBy).toBe("linger");
    expect(batch.items).toEqual([1, 2]);
    expect(batcher.isEmpty).toBe(true);
  });

  test("an item larger than bytesMax is a batch of one", () => {
    const batcher = new Batcher<string>({ rowsMax: 10, bytesMax: 100, lingerMs: 10 });
    batcher.add("small", 10, 0);
    const closed = batcher.add("huge", 500, 1);
    expect(closed?.items).toEqual(["small"]);
    expect(batcher.isFull).toBe(true);
    expect(batcher.take(1).items).toEqual(["huge"]);
  });

  test("refuses bad limits and taking an empty batch", () => {
    expect(() => new Batcher({ rowsMax: 0, bytesMax: 1, lingerMs: 0 })).toThrow(BatchLimitError);
    expect(() => new Batcher({ rowsMax: 1, bytesMax: 1, lingerMs: -1 })).toThrow(BatchLimitError);
    expect(() => new Batcher({ rowsMax: 1, bytesMax: 1, lingerMs: 0 }).take(0)).toThrow(BatchLimitError);
  });

  test("property: batches keep every item once, in order, and never exceed a limit", () => {
    fc.assert(
      fc.property(
        fc.record({
          rowsMax: fc.integer({ min: 1, max: 20 }),
          bytesMax: fc.integer({ min: 1, max: 500 }),
          lingerMs: fc.integer({ min: 0, max: 100 }),
        }),
        fc.array(fc.record({ bytes: fc.integer({ min: 0, max: 600 }), gapMs: fc.integer({ min: 0, max: 60 }) }), {
          maxLength: 200,
        }),
        (limits, arrivals) => {
          const batcher = new Batcher<number>(limits);
          const batches: Batch<number>[] = [];
          const sizes: number[] = [];
          let nowMs = 0;
          // Drive it like the worker does: take when full or due, before each arrival.
          arrivals.forEach(({ bytes, gapMs }, i) => {
            nowMs += gapMs;
            if (batcher.isFull || batcher.isDue(nowMs)) batches.push(batcher.take(nowMs));
            sizes.push(bytes);
            const closed = batcher.add(i, bytes, nowMs);
            if (closed) batches.push(closed);
          });
          if (!batcher.isEmpty) batches.push(batcher.take(nowMs, "flush"));

          expect(batches.flatMap((batch) => batch.items)).toEqual(arrivals.map((_, i) => i));
          for (const batch of batches) {
            expect(batch.items.length).toBeGreaterThan(0);
            expect(batch.items.length).toBeLessThanOrEqual(limits.rowsMax);
            expect(batch.bytes).toBe(batch.items.reduce((sum, i) => sum + (sizes[i] as number), 0));
            if (batch.items.length > 1) expect(batch.bytes).toBeLessThanOrEqual(limits.bytesMax);
            if (batch.closedBy === "linger") {
              expect(batch.closedAtMs - batch.openedAtMs).toBeGreaterThanOrEqual(limits.lingerMs);
            }
            // Taken as soon as due: a batch never spans more than its linger time of arrivals.
            const arrivalTimes = batch.items.map((i) => arrivals.slice(0, i + 1).reduce((t, a) => t + a.gapMs, 0));
            expect((arrivalTimes.at(-1) as number) - (arrivalTimes[0] as number)).toBeLessThan(
              Math.max(limits.lingerMs, 1),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
