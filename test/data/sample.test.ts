import { expect, test } from "bun:test";
import { join } from "node:path";
import { defaultSeed, paysimCsvChunks } from "../../data/generate.ts";

const samplePath = join(import.meta.dir, "..", "..", "data", "paysim-sample.csv");
const sampleRows = 5_000;

test("data/paysim-sample.csv is exactly the generator's 5,000 rows with the default seed", async () => {
  const shipped = await Bun.file(samplePath).text();
  const regenerated = [...paysimCsvChunks({ rows: sampleRows, seed: defaultSeed })].join("");
  expect(shipped.split("\n").length).toBe(sampleRows + 2);
  // Compared whole, byte for byte: a change to the generator must come with a new sample.
  expect(shipped === regenerated).toBe(true);
});
