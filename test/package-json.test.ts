// What package.json promises about dependencies: each pinned to one exact
// version (so the lockfile, the Docker image and the URLs of the files the API
// serves from node_modules agree), and no install script run at `bun install`.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "./support/processes.ts";

const manifest = await Bun.file(join(repoRoot, "package.json")).json();

test("every dependency is pinned to an exact version", () => {
  for (const [name, range] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
    expect(range, name).toMatch(/^\d+\.\d+\.\d+$/);
  }
});

test("bun install trusts no dependency's install script (not even Bun's built-in list)", async () => {
  expect(manifest.trustedDependencies).toEqual([]);
  expect(await Bun.file(join(repoRoot, "bun.lock")).text()).toContain('"trustedDependencies": [],');
});
