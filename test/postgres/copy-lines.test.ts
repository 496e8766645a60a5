import { expect, test } from "bun:test";
import fc from "fast-check";
import { CopyLinesBuilder } from "../../src/postgres/copy-lines.ts";
import { copyLine } from "../../src/postgres/stored-row.ts";
import { copyReadyKeyLength, decodeMessage, encodeMessage } from "../../src/transaction/message.ts";
import { sampleTransaction } from "../support/run.ts";

// The worker copies a well-formed message value into its COPY text as bytes
// (src/postgres/copy-lines.ts). These properties hold that path to the one it
// replaces: decode the value, then copyLine the row.

const name = fc.stringMatching(/^[\x21-\x7E]{1,64}$/);
const cents = fc.bigInt({ min: 0n, max: 10n ** 15n }).map((c) => `${c / 100n}.${String(c % 100n).padStart(2, "0")}`);
const instant = fc
  .date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true })
  .map((d) => d.toISOString());
const accepted = fc
  .record({
    nameOrig: name,
    nameDest: name,
    amount: cents,
    newbalanceDest: cents,
    step: fc.integer({ min: 1, max: 10_000 }),
    type: fc.constantFrom("CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER" as const),
    isFraud: fc.boolean(),
    isFlaggedFraud: fc.boolean(),
    acceptedAt: instant,
    apiKeyId: fc.option(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/), { nil: undefined }),
  })
  .map(({ apiKeyId, ...fields }) => sampleTransaction({ ...fields, ...(apiKeyId === undefined ? {} : { apiKeyId }) }));
const position = fc.record({
  partition: fc.integer({ min: 0, max: 10_000 }),
  offset: fc.bigInt({ min: 0n, max: 2n ** 62n }),
});

/** The COPY text the byte path writes for `value`, or undefined when it leaves the value to decodeMessage. */
function bytePath(value: Buffer, partition: number, offset: bigint): string | undefined {
  const keyLength = copyReadyKeyLength(value.toString("latin1"));
  if (keyLength < 0) return undefined;
  const builder = new CopyLinesBuilder();
  builder.addMessage(value, keyLength, partition, offset);
  return Buffer.concat(builder.finish()).toString("latin1");
}

test("property: a value the byte path takes is the COPY line decode-then-copyLine writes, byte for byte", () => {
  fc.assert(
    fc.property(accepted, position, (transaction, { partition, offset }) => {
      const value = encodeMessage(transaction);
      const line = bytePath(value, partition, offset);
      // Names with a backslash need COPY's escaping: those, and only those, go the decoding way.
      const needsEscaping = transaction.nameOrig.includes("\\") || transaction.nameDest.includes("\\");
      expect(line === undefined).toBe(needsEscaping);
      if (line === undefined) return;
      expect(line).toBe(copyLine({ transaction, partition, offset }));
    }),
    { numRuns: 2000 },
  );
});

test("property: the byte path takes nothing decodeMessage refuses, and agrees with it on everything else", () => {
  // Values near the valid ones: one byte replaced, inserted or removed, anywhere.
  const mutation = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom("replace", "insert", "delete" as const),
    byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x09, 0x0a, 0x5c, 0x30, 0x39, 0x2d, 0x3a)),
  });
  fc.assert(
    fc.property(accepted, fc.array(mutation, { minLength: 1, maxLength: 3 }), position, (transaction, edits, where) => {
      const bytes = [...encodeMessage(transaction)];
      for (const { at, kind, byte } of edits) {
        const i = at % (bytes.length + 1);
        if (kind === "insert") bytes.splice(i, 0, byte);
        else if (i < bytes.length) {
          if (kind === "replace") bytes[i] = byte;
          else bytes.splice(i, 1);
        }
      }
      const value = Buffer.from(bytes);
      const line = bytePath(value, where.partition, where.offset);
      if (line === undefined) return;
      const decoded = decodeMessage(value);
      expect(decoded.ok).toBe(true);
      if (decoded.ok) expect(line).toBe(copyLine({ transaction: decoded.value, ...where }));
    }),
    { numRuns: 5000 },
  );
});

test("the byte path leaves out what decodeMessage alone can judge: a day the month lacks, step 0 or past its bound, year 0, a version without its key", () => {
  const text = (overrides: Partial<ReturnType<typeof sampleTransaction>>) =>
    encodeMessage(sampleTransaction(overrides)).toString("latin1");
  expect(copyReadyKeyLength(text({}))).toBe(0);
  expect(copyReadyKeyLength(text({ apiKeyId: "k-1" }))).toBe(4);
  for (const acceptedAt of ["2023-02-29T00:00:00.000Z", "2024-04-31T00:00:00.000Z", "0000-01-01T00:00:00.000Z"]) {
    expect(copyReadyKeyLength(text({ acceptedAt }))).toBe(-1);
  }
  expect(copyReadyKeyLength(text({ acceptedAt: "2024-02-29T23:59:59.999Z" }))).toBe(0);
  expect(copyReadyKeyLength(text({ step: 10_001 }))).toBe(-1);
  expect(copyReadyKeyLength(text({ step: 10_000 }))).toBe(0);
  expect(copyReadyKeyLength(`3${text({}).slice(1)}`)).toBe(-1);
  expect(copyReadyKeyLength(`2${text({ apiKeyId: "k" }).slice(1)}`)).toBe(-1);
});

test("lines longer than a chunk, and many lines, come out whole and in order", () => {
  const builder = new CopyLinesBuilder();
  const expected: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const transaction = sampleTransaction({ apiKeyId: i % 2 === 0 ? "key" : undefined });
    if (i % 2 === 1) delete transaction.apiKeyId;
    const value = encodeMessage(transaction);
    builder.addMessage(value, copyReadyKeyLength(value.toString("latin1")), 1, BigInt(i));
    expected.push(copyLine({ transaction, partition: 1, offset: BigInt(i) }));
  }
  const long = `${"x".repeat(300 * 1024)}\n`;
  builder.addLine(long);
  expected.push(long);
  const chunks = builder.finish();
  expect(builder.lines).toBe(3001);
  expect(chunks.length).toBeGreaterThan(2);
  // Every chunk ends at a line's end.
  for (const chunk of chunks) expect(chunk[chunk.length - 1]).toBe(0x0a);
  expect(Buffer.concat(chunks).toString("latin1")).toBe(expected.join(""));
});
