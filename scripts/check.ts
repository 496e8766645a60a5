// The whole test suite, as CI runs it: typecheck, lint, Chromium for the
// browser tests (installed when missing), then bun test against
// a real Kafka broker (started by test/setup.ts when none answers) and the
// configured PostgreSQL. Ends with one "N passed, N failed, N skipped" line.
import { spawn } from "bun";

async function step(name: string, command: string[]): Promise<void> {
  console.log(`\n== ${name}: ${command.join(" ")}`);
  const child = spawn(command, { stdout: "inherit", stderr: "inherit" });
  const code = await child.exited;
  if (code !== 0) {
    console.log(`\n${name} failed (exit ${code})`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
}

await step("typecheck", ["bun", "x", "tsc", "--noEmit", "-p", "."]);
await step("lint", ["bun", "x", "biome", "lint", "."]);
await step("browser", ["bash", "scripts/chromium.sh"]);

console.log("\n== test: bun test");
const test = spawn(["bun", "test", "--timeout", "120000", ...process.argv.slice(2)], {
  stdout: "inherit",
  stderr: "pipe",
});
// bun test writes its results to stderr: pass them through and keep the counts.
let tail = "";
const decoder = new TextDecoder();
for await (const chunk of test.stderr) {
  process.stderr.write(chunk);
  tail = (tail + decoder.decode(chunk)).slice(-4096);
}
const code = await test.exited;
const count = (word: string) => Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(tail)?.[1] ?? 0);
const passed = count("pass");
const failed = count("fail") + (code !== 0 && count("fail") === 0 ? 1 : 0);
const skipped = count("skip");
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(code === 0 && passed > 0 ? 0 : 1);
