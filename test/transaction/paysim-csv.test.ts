import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { paysimRows } from "../../data/generate.ts";
import {
  describeRecord,
  headerField,
  PaySimCsvError,
  type PaySimRecord,
  paysimHeader,
  readPaySimCsv,
  rowField,
} from "../../src/transaction/paysim-csv.ts";
import { checkTransaction } from "../../src/transaction/rules.ts";

const samplePath = join(import.meta.dir, "..", "..", "data", "paysim-sample.csv");
const dir = await mkdtemp(join(tmpdir(), "txlog-paysim-csv-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function readAll(path: string, rowsMax?: number): Promise<PaySimRecord[]> {
  const records: PaySimRecord[] = [];
  for await (const record of readPaySimCsv(path, { rowsMax })) records.push(record);
  return records;
}

async function fileWith(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await Bun.write(path, text);
  return path;
}

// The first rows of the real Kaggle file (PS_20174392719_1491204439457_log.csv):
// one-decimal amounts and fraud rows, as the 6.36M-row file writes them.
const realRows = [
  "1,PAYMENT,9839.64,C1231006815,170136.0,160296.36,M1979787155,0.0,0.0,0,0",
  "1,PAYMENT,1864.28,C1666544295,21249.0,19384.72,M2044282225,0.0,0.0,0,0",
  "1,TRANSFER,181.0,C1305486145,181.0,0.0,C553264065,0.0,0.0,1,0",
  "1,CASH_OUT,181.0,C840083671,181.0,0.0,C38997010,21182.0,0.0,1,0",
];
const validRow = "3,DEBIT,5337.77,C712410124,41720.0,36382.23,C195600860,41898.0,40348.79,0,0";

test("reads the shipped sample: 5,000 valid rows, lines 2 to 5001, equal to what the generator made", async () => {
  const records = await readAll(samplePath);
  expect(records.length).toBe(5_000);
  const generated = [...paysimRows({ rows: 5_000 })];
  records.forEach((record, index) => {
    expect(record.line).toBe(index + 2);
    expect(record.checked).toEqual(checkTransaction(generated[index]));
  });
  expect(records.every((record) => record.checked.ok)).toBe(true);
});

test("reads the real PaySim file's format, money exact as canonical strings, with LF or CRLF line ends", async () => {
  for (const end of ["\n", "\r\n"]) {
    const path = await fileWith(`real-${end.length}.csv`, [paysimHeader, ...realRows].join(end) + end);
    const records = await readAll(path);
    expect(records.map((record) => record.line)).toEqual([2, 3, 4, 5]);
    const third = records[2]?.checked;
    expect(third?.ok && third.value).toEqual({
      step: 1,
      type: "TRANSFER",
      amount: "181.00",
      nameOrig: "C1305486145",
      oldbalanceOrg: "181.00",
      newbalanceOrig: "0.00",
      nameDest: "C553264065",
      oldbalanceDest: "0.00",
      newbalanceDest: "0.00",
      isFraud: true,
      isFlaggedFraud: false,
    });
    const first = records[0]?.checked;
    expect(first?.ok && [first.value.amount, first.value.oldbalanceOrg, first.value.newbalanceOrig]).toEqual([
      "9839.64",
      "170136.00",
      "160296.36",
    ]);
  }
});

test("a bad row is reported with its line and field, and the read goes on", async () => {
  const path = await fileWith(
    "bad.csv",
    [
      paysimHeader,
      validRow, // 2
      "1,PAYMENT,12.345,C1,0.0,0.0,M1,0.0,0.0,0,0", // 3: three decimals
      "1,PAYMENT,12.34,C1,0.0,0.0,M1,0.0,0.0,0", // 4: ten columns
      "x,WIRE,1.00,C1,0.0,0.0,M1,0.0,0.0,0,2", // 5: step, type, flag
      "", // 6: empty line
      '1,PAYMENT,1.00,"C1\nC2",0.0,0.0,M1,0.0,0.0,0,0', // 7-8: a quoted newline
      validRow, // 9
    ].join("\n"),
  );
  const records = await readAll(path);
  const summary = records.map((record) => [
    record.line,
    record.checked.ok ? "ok" : record.checked.errors.map((error) => error.field).join(","),
  ]);
  expect(summary).toEqual([
    [2, "ok"],
    [3, "amount"],
    [4, rowField],
    [5, "step,type,isFlaggedFraud"],
    [6, rowField],
    [7, "nameOrig"],
    [9, "ok"],
  ]);
  expect(describeRecord(records[1] as PaySimRecord)).toBe(
    "line 3: amount: must be a number or decimal string with at most 2 fractional digits, from 0 to 10000000000000",
  );
  expect(describeRecord(records[2] as PaySimRecord)).toBe(`line 4: ${rowField}: has 10 columns, expected 11`);
});

test("a wrong or missing header yields one error at line 1 and no rows", async () => {
  const renamed = await fileWith("renamed.csv", `${paysimHeader.replace("amount", "amt")}\n${validRow}\n`);
  const headless = await fileWith("headless.csv", `${validRow}\n${validRow}\n`);
  for (const path of [renamed, headless]) {
    const records = await readAll(path);
    expect(records.length).toBe(1);
    const [record] = records;
    expect(record?.line).toBe(1);
    expect(record?.checked.ok).toBe(false);
    expect(record?.checked.ok === false && record.checked.errors[0]?.field).toBe(headerField);
    expect(describeRecord(record as PaySimRecord)).toContain(`must be ${paysimHeader}`);
  }
  // A byte-order mark from a spreadsheet export is not a wrong header.
  const withBom = await fileWith("bom.csv", `\uFEFF${paysimHeader}\n${validRow}\n`);
  expect((await readAll(withBom)).map((record) => record.checked.ok)).toEqual([true]);
});

test("rowsMax stops after that many rows, and an empty file or header-only file has none", async () => {
  const records = await readAll(samplePath, 10);
  expect(records.map((record) => record.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  expect(await readAll(samplePath, 0)).toEqual([]);
  expect(await readAll(await fileWith("header-only.csv", `${paysimHeader}\n`))).toEqual([]);
  const empty = await readAll(await fileWith("empty.csv", ""));
  expect(empty).toEqual([]);
});

test("a missing file or text that is not CSV throws, naming the file", async () => {
  const missing = join(dir, "does-not-exist.csv");
  await expect(readAll(missing)).rejects.toThrow(missing);
  await expect(readAll(missing)).rejects.toThrow(/ENOENT|no such file/i);
  const unclosed = await fileWith(
    "unclosed.csv",
    `${paysimHeader}\n${validRow}\n1,PAYMENT,"1.00"x,C1,0,0,M1,0,0,0,0\n`,
  );
  const error = await readAll(unclosed).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(PaySimCsvError);
  expect((error as PaySimCsvError).message).toContain(unclosed);
  expect((error as PaySimCsvError).message).toContain("Parse Error");
});

// /proc lists this process's open files on Linux; elsewhere the check is skipped.
const openFiles = async () =>
  (await Array.fromAsync(new Bun.Glob("*").scan({ cwd: "/proc/self/fd", onlyFiles: false }))).length;
test.skipIf(process.platform !== "linux")("leaving a read early closes the file", async () => {
  const before = await openFiles();
  for (let i = 0; i < 50; i++) {
    for await (const record of readPaySimCsv(samplePath)) {
      expect(record.line).toBe(2);
      break;
    }
  }
  await Bun.sleep(50);
  expect(await openFiles()).toBeLessThan(before + 5);
});
