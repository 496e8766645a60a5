import { afterAll, describe, expect, test } from "bun:test";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import fc from "fast-check";
import { openDatabase } from "../../src/postgres/connection.ts";
import { CopyTextError, copyField, copyRow } from "../../src/postgres/copy-text.ts";
import { parseCopyRow } from "../support/copy-text.ts";
import { testConfig } from "../support/run.ts";

// Any text PostgreSQL can store: everything but NUL, with the COPY specials often.
const storable = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom("\\", "\t", "\n", "\r", "N", ".", "\\N"),
      fc.string({ unit: "grapheme", maxLength: 1 }),
    ),
    maxLength: 30,
  })
  .filter((text) => !text.includes("\u0000"));
const field = fc.option(storable, { nil: null, freq: 5 });

describe("COPY text format", () => {
  test("escapes the four specials and writes NULL as \\N", () => {
    expect(copyField("a\tb\nc\rd\\e")).toBe("a\\tb\\nc\\rd\\\\e");
    expect(copyField(null)).toBe("\\N");
    // The two characters backslash and N are data, not NULL.
    expect(copyField("\\N")).toBe("\\\\N");
    expect(copyRow(["x", null, ""])).toBe("x\t\\N\t\n");
  });

  test("refuses NUL, which PostgreSQL text cannot hold", () => {
    expect(() => copyField("a\u0000b")).toThrow(CopyTextError);
  });

  test("property: a row is one line that parses back to its fields", () => {
    fc.assert(
      fc.property(fc.array(field, { minLength: 1, maxLength: 8 }), (fields) => {
        const line = copyRow(fields);
        expect(line.indexOf("\n")).toBe(line.length - 1);
        expect(line.split("\t").length).toBe(fields.length);
        expect(parseCopyRow(line)).toEqual(fields);
      }),
      { numRuns: 500 },
    );
  });

  describe("against PostgreSQL", () => {
    const sql = openDatabase(testConfig().databaseUrl, { poolMax: 1 });
    afterAll(() => sql.end());

    test("property: PostgreSQL's COPY reads back exactly the values written", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(field, field), { minLength: 1, maxLength: 40 }), async (rows) => {
          const stored = await sql.begin(async (tx) => {
            await tx`CREATE TEMP TABLE copy_roundtrip (n integer, a text, b text) ON COMMIT DROP`;
            const copy = await tx`COPY copy_roundtrip (n, a, b) FROM STDIN`.writable();
            await pipeline(Readable.from([rows.map(([a, b], n) => copyRow([String(n), a, b])).join("")]), copy);
            return tx<{ a: string | null; b: string | null }[]>`SELECT a, b FROM copy_roundtrip ORDER BY n`;
          });
          expect(stored.map((row) => [row.a, row.b])).toEqual(rows);
        }),
        { numRuns: 40 },
      );
    }, 30_000);
  });
});
