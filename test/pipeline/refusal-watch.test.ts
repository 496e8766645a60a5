// When PostgreSQL refusing rows means the database is wrong, not the rows.
import { expect, test } from "bun:test";
import {
  RefusalWatch,
  SystematicRefusalError,
  systematicRefusalRowsMin,
  systematicRefusalShareMax,
} from "../../src/pipeline/refusal-watch.ts";

/** Refuses `count` rows of a batch of `rows`; the error thrown, if any. */
function refuse(watch: RefusalWatch, rows: number, count: number, sqlstate = "23514"): unknown {
  const batch = watch.begin(rows);
  try {
    for (let i = 0; i < count; i++) batch.refused(sqlstate, `${sqlstate} check constraint refuses row ${i}`);
  } catch (error) {
    return error;
  }
  return undefined;
}

test("a few refused rows in a large batch are bad rows: no verdict", () => {
  const watch = new RefusalWatch();
  expect(refuse(watch, 5000, 2)).toBeUndefined();
  expect(refuse(watch, 5000, Math.floor(5000 * systematicRefusalShareMax))).toBeUndefined();
});

test("more than half of a batch of systematicRefusalRowsMin rows or more refused with one SQLSTATE stops, naming it", () => {
  const rows = 20;
  const error = refuse(new RefusalWatch(), rows, rows);
  expect(error).toBeInstanceOf(SystematicRefusalError);
  // Thrown at the first refusal past the share: the rest of the batch is never isolated.
  expect((error as SystematicRefusalError).refused).toBe(rows * systematicRefusalShareMax + 1);
  expect((error as Error).message).toContain("SQLSTATE 23514");
});

test("refusals with different SQLSTATEs are counted apart", () => {
  const watch = new RefusalWatch();
  const batch = watch.begin(20);
  expect(() => {
    for (let i = 0; i < 10; i++) {
      batch.refused("23514", "check");
      batch.refused("22008", "date");
    }
  }).not.toThrow();
  expect(() => batch.refused("22008", "date")).toThrow(SystematicRefusalError);
});

test("a trickle of small batches is judged over the last systematicRefusalRowsMin rows", () => {
  const watch = new RefusalWatch();
  for (let i = 1; i < systematicRefusalRowsMin; i++) expect(refuse(watch, 1, 1)).toBeUndefined();
  expect(refuse(watch, 1, 1)).toBeInstanceOf(SystematicRefusalError);
  // Good batches in between dilute the view.
  const diluted = new RefusalWatch();
  for (let i = 0; i < 3 * systematicRefusalRowsMin; i++) {
    expect(refuse(diluted, 1, i % 2 === 0 ? 1 : 0)).toBeUndefined();
  }
});

test("a batch written again forgets the refusals of its failed attempt", () => {
  const watch = new RefusalWatch();
  const batch = watch.begin(20);
  for (let i = 0; i < 10; i++) batch.refused("23514", "check");
  batch.restart();
  expect(() => {
    for (let i = 0; i < 10; i++) batch.refused("23514", "check");
  }).not.toThrow();
});
