import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  flaggedAmountCentsMin,
  type PaySimRow,
  paysimCounts,
  paysimCsvChunks,
  paysimRows,
} from "../../data/generate.ts";
import { exactExp, Random } from "../../data/random.ts";
import { paysimHeader } from "../../src/transaction/paysim-csv.ts";
import { checkTransaction, describeErrors, type TransactionType } from "../../src/transaction/rules.ts";

const dir = await mkdtemp(join(tmpdir(), "txlog-generate-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

const csv = (rows: number, seed?: number) => [...paysimCsvChunks({ rows, seed })].join("");
const cents = (money: string) => BigInt(money.replace(".", ""));

describe("determinism", () => {
  test("the same seed gives the same bytes, another seed other bytes", () => {
    const a = csv(20_000);
    expect(a.startsWith(`${paysimHeader}\n`)).toBe(true);
    expect(a.split("\n").length).toBe(20_000 + 2); // header, rows, and the empty string after the last "\n"
    expect(csv(20_000)).toBe(a);
    const b = csv(20_000, 43);
    expect(b).not.toBe(a);
    // Not just a late divergence: the first data rows already differ.
    expect(b.split("\n")[1]).not.toBe(a.split("\n")[1]);
  });

  test("the CLI writes exactly what the in-process generator yields", async () => {
    const out = join(dir, "cli.csv");
    const child = Bun.spawn(["bun", "run", "data/generate.ts", "--rows", "3000", "--seed", "7", "--out", out], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await child.exited).toBe(0);
    expect(await new Response(child.stderr).text()).toContain("rows/s");
    expect(await Bun.file(out).text()).toBe(csv(3_000, 7));
  });

  test.each([
    [["--rows", "1.5"], "--rows must be an integer"],
    [["--rows", "-5"], "usage:"],
    [["--rows", "10", "--seed", "4294967296"], "--seed must be an integer from 0 to 4294967295"],
    [["--rows", "10"], "usage:"],
  ])("the CLI refuses %p with a message and exit code 2", async (args, message) => {
    const out = join(dir, "refused.csv");
    const child = Bun.spawn(["bun", "run", "data/generate.ts", ...args, ...(args.length < 3 ? [] : ["--out", out])], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await child.exited).toBe(2);
    expect(await new Response(child.stderr).text()).toContain(message);
    expect(await Bun.file(out).exists()).toBe(false);
  });

  test("exactExp agrees with Math.exp within a few ulps over the range amounts use", () => {
    for (let x = -12; x <= 12; x += 0.001) {
      expect(Math.abs(exactExp(x) / Math.exp(x) - 1)).toBeLessThan(1e-15);
    }
  });

  test("the PRNG is uniform enough: 16 buckets of 160,000 draws within 4 sigma", () => {
    const random = new Random(1);
    const buckets = new Array<number>(16).fill(0);
    const draws = 160_000;
    for (let i = 0; i < draws; i++) (buckets[random.below(16)] as number)++;
    const sigma = Math.sqrt(draws * (1 / 16) * (15 / 16));
    for (const count of buckets) expect(Math.abs(count - draws / 16)).toBeLessThan(4 * sigma);
  });
});

describe("200,000 rows look like PaySim", () => {
  const rowCount = 200_000;
  const rows: PaySimRow[] = [...paysimRows({ rows: rowCount })];
  // Within 4 standard deviations of a binomial with PaySim's proportion.
  const near = (observed: number, trials: number, expectedShare: number) => {
    const sigma = Math.sqrt(trials * expectedShare * (1 - expectedShare));
    expect(Math.abs(observed - trials * expectedShare)).toBeLessThan(4 * sigma);
  };

  test("type mix and fraud rate are PaySim's", () => {
    const types = new Map<string, number>();
    const fraud = new Map<string, number>();
    for (const row of rows) {
      types.set(row.type, (types.get(row.type) ?? 0) + 1);
      if (row.isFraud) fraud.set(row.type, (fraud.get(row.type) ?? 0) + 1);
    }
    for (const [type, count] of Object.entries(paysimCounts.types)) {
      near(types.get(type) ?? 0, rowCount, count / paysimCounts.rows);
    }
    expect([...fraud.keys()].sort()).toEqual(["CASH_OUT", "TRANSFER"]);
    const fraudTotal = (fraud.get("TRANSFER") ?? 0) + (fraud.get("CASH_OUT") ?? 0);
    near(fraudTotal, rowCount, (paysimCounts.fraud.TRANSFER + paysimCounts.fraud.CASH_OUT) / paysimCounts.rows);
    near(
      fraud.get("TRANSFER") ?? 0,
      types.get("TRANSFER") ?? 0,
      paysimCounts.fraud.TRANSFER / paysimCounts.types.TRANSFER,
    );
  });

  test("every row passes the schema the API and worker use", () => {
    let invalid = 0;
    let firstError = "";
    for (const row of rows) {
      const checked = checkTransaction(row);
      if (!checked.ok) {
        invalid++;
        firstError ||= describeErrors(checked.errors);
      } else if (checked.value.amount !== row.amount) {
        // Generated money is already canonical, so the CSV text is what lands in PostgreSQL.
        invalid++;
        firstError ||= `amount ${row.amount} is not canonical`;
      }
    }
    expect(firstError).toBe("");
    expect(invalid).toBe(0);
  });

  test("balances follow from the amounts, row by row and from one row of an account to its next", () => {
    const inflow = (old: bigint, amount: bigint) => old + amount;
    const outflow = (old: bigint, amount: bigint) => (old > amount ? old - amount : 0n);
    const lastBalance = new Map<string, bigint>();
    const carried = (name: string, old: bigint, next: bigint) => {
      const last = lastBalance.get(name);
      if (last !== undefined && last !== old) throw new Error(`${name}: opened at ${old}, last left at ${last}`);
      lastBalance.set(name, next);
    };
    for (const row of rows) {
      const amount = cents(row.amount);
      expect(amount).toBeGreaterThan(0n);
      const oldOrig = cents(row.oldbalanceOrg);
      const oldDest = cents(row.oldbalanceDest);
      const expectedOrig = row.type === "CASH_IN" ? inflow(oldOrig, amount) : outflow(oldOrig, amount);
      expect(cents(row.newbalanceOrig)).toBe(expectedOrig);
      expect(row.nameOrig.startsWith("C")).toBe(true);
      carried(row.nameOrig, oldOrig, expectedOrig);
      if (row.type === "PAYMENT") {
        // Merchants are only PAYMENT destinations and keep no balance.
        expect(row.nameDest.startsWith("M")).toBe(true);
        expect([row.oldbalanceDest, row.newbalanceDest]).toEqual(["0.00", "0.00"]);
      } else {
        expect(row.nameDest.startsWith("C")).toBe(true);
        expect(row.nameDest).not.toBe(row.nameOrig);
        const expectedDest = row.type === "CASH_IN" ? outflow(oldDest, amount) : inflow(oldDest, amount);
        expect(cents(row.newbalanceDest)).toBe(expectedDest);
        carried(row.nameDest, oldDest, expectedDest);
      }
    }
  });

  test("steps rise from 1 to 743 and accounts are reused, some many times", () => {
    let previous = 0;
    const steps = new Set<number>();
    const uses = new Map<string, number>();
    for (const row of rows) {
      expect(row.step).toBeGreaterThanOrEqual(previous);
      previous = row.step;
      steps.add(row.step);
      uses.set(row.nameOrig, (uses.get(row.nameOrig) ?? 0) + 1);
      uses.set(row.nameDest, (uses.get(row.nameDest) ?? 0) + 1);
    }
    expect(rows[0]?.step).toBe(1);
    expect(rows.at(-1)?.step).toBe(paysimCounts.stepMax);
    expect(steps.size).toBe(paysimCounts.stepMax);
    expect(uses.size).toBeLessThan(rowCount);
    expect(Math.max(...uses.values())).toBeGreaterThanOrEqual(50);
  });

  test("fraud empties the origin up to 10,000,000.00 when it has money", () => {
    const fraud = rows.filter((row) => row.isFraud === 1 && cents(row.oldbalanceOrg) > 0n);
    expect(fraud.length).toBeGreaterThan(0);
    for (const row of fraud) {
      const expected = cents(row.oldbalanceOrg) < 1_000_000_000n ? cents(row.oldbalanceOrg) : 1_000_000_000n;
      // A flagged TRANSFER is pushed above the threshold, so it may exceed the balance.
      if (row.isFlaggedFraud === 0) expect(cents(row.amount)).toBe(expected);
    }
  });
});

test("isFlaggedFraud marks only fraudulent TRANSFERs above 200,000.00, about 16 per 6.36M rows", () => {
  const rowCount = 1_000_000;
  let flagged = 0;
  let fraudTransfers = 0;
  for (const row of paysimRows({ rows: rowCount })) {
    if (row.isFraud === 1 && (row.type as TransactionType) === "TRANSFER") fraudTransfers++;
    if (row.isFlaggedFraud === 0) continue;
    flagged++;
    expect(row.type).toBe("TRANSFER");
    expect(row.isFraud).toBe(1);
    expect(cents(row.amount)).toBeGreaterThan(BigInt(flaggedAmountCentsMin));
  }
  const expected = (rowCount * paysimCounts.flaggedFraud) / paysimCounts.rows; // 2.5
  expect(flagged).toBeGreaterThan(0);
  expect(flagged).toBeLessThan(expected + 4 * Math.sqrt(expected));
  expect(fraudTransfers).toBeGreaterThan(flagged);
});
