// parseJson on its own: a number that keeps its digits through parsing is a
// number, one that loses some is its source text (which the rules refuse).
import { expect, test } from "bun:test";
import fc from "fast-check";
import { decimalValue, parseJson } from "../../src/api/json-body.ts";

test("decimalValue spells one value one way", () => {
  expect(["0.0250", "2.5e-2", "25E-3", "0.025"].map(decimalValue)).toEqual(Array(4).fill("25e-2"));
  expect(["100", "1e2", "100.000", "1.00E+2"].map(decimalValue)).toEqual(Array(4).fill("1e2"));
  expect(decimalValue("-0")).toBe("0");
  expect(decimalValue("100.0000000000000001")).not.toBe(decimalValue("100"));
});

test("a number that loses digits in parsing becomes its source text, wherever it is", () => {
  expect(parseJson('{"amount":100.0000000000000001,"step":1}')).toEqual({ amount: "100.0000000000000001", step: 1 });
  expect(parseJson("[1, 9007199254740993, 0.5]")).toEqual([1, "9007199254740993", 0.5]);
  expect(parseJson('{"a": {"b": [ -12345678901234567.5 ]}}')).toEqual({ a: { b: ["-12345678901234567.5"] } });
});

test("numbers that keep their digits stay numbers, long runs of digits in strings too", () => {
  expect(parseJson('{"amount":9839.64,"n":"C12345678901234567890","big":1234567890123.45}')).toEqual({
    amount: 9839.64,
    n: "C12345678901234567890",
    big: 1234567890123.45,
  });
  expect(parseJson('{"x":9007199254740992,"y":1.50e2}')).toEqual({ x: 9007199254740992, y: 150 });
});

test("any double as JSON.stringify writes it comes back the same number", () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
      expect(parseJson(`{"v":${JSON.stringify(value)},"n":"C12345678901234567890"}`)).toEqual({
        v: Object.is(value, -0) ? 0 : value,
        n: "C12345678901234567890",
      });
    }),
  );
});
