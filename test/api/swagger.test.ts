// The API's own docs: Swagger UI renders every operation in headless Chromium
// with the internet out of reach, from files of the pinned swagger-ui-dist
// package under a Content-Security-Policy that allows no inline script; with
// API_DOCS=off there is nothing at /swagger.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { docsContentSecurityPolicy } from "../../src/api/swagger.ts";
import { type RunningApi, startApi } from "../../src/api.ts";
import { chromiumInstalled, openPage } from "../support/browser.ts";
import { repoRoot } from "../support/processes.ts";
import { testConfig, testTopics } from "../support/run.ts";

const topics = testTopics("swagger");
const packageJson = await Bun.file(join(repoRoot, "package.json")).json();
const pinned = packageJson.dependencies["swagger-ui-dist"] as string;
const assetsBase = `/swagger/assets/swagger-ui-dist@${pinned}`;
let api: RunningApi;
let apiWithoutDocs: RunningApi;
beforeAll(async () => {
  api = await startApi(testConfig({ port: 0, ...topics }));
  apiWithoutDocs = await startApi(testConfig({ port: 0, ...topics, apiDocs: false }));
});
afterAll(async () => {
  await Promise.all([api?.stop(), apiWithoutDocs?.stop()]);
});

/** Every operation of the OpenAPI document, as Swagger UI shows it: "POST /transaction". */
const operations = [
  "POST /transaction",
  "POST /transactions",
  "GET /transactions/{id}",
  "GET /reports",
  "GET /reports/summary",
  "GET /rejections",
  "GET /dashboard/data",
  "GET /metrics",
  "GET /health",
  "GET /ready",
];

/** Swagger UI on a slow, busy machine: it parses a 1.7 MB bundle first. */
const renderMsMax = 60_000;

test.skipIf(!chromiumInstalled)(
  "Swagger UI renders every operation with no request beyond the API and no error",
  async () => {
    const session = await openPage({ width: 1100, height: 900 });
    try {
      const { page } = session;
      page.setDefaultTimeout(renderMsMax);
      await page.goto(`${api.url}/swagger`);
      await page.waitForSelector(".opblock-summary-path", { timeout: renderMsMax }).catch((error: Error) => {
        const seen = JSON.stringify({ blocked: session.blocked, errors: session.errors });
        throw new Error(`Swagger UI rendered no operation: ${error.message.split("\n")[0]} ${seen}`);
      });
      const shown = await page.$$eval(".opblock-summary", (blocks) =>
        blocks.map(
          (block) =>
            `${block.querySelector(".opblock-summary-method")?.textContent} ${block.querySelector(".opblock-summary-path")?.getAttribute("data-path")}`,
        ),
      );
      expect(shown).toEqual(operations);
      if (process.env.UPDATE_SCREENSHOTS === "1") {
        mkdirSync(join(repoRoot, "docs"), { recursive: true });
        await page.screenshot({ path: join(repoRoot, "docs", "swagger.png") });
      }
      // Opened, an operation shows its request body's schema from the document.
      await page.click(".opblock-post .opblock-summary-path[data-path='/transaction']");
      await page.waitForSelector(".opblock-post.is-open .opblock-body", { timeout: renderMsMax });
      await page.click(".opblock-post.is-open .opblock-section-request-body .tablinks[data-name='model']");
      await page.waitForSelector(".opblock-post.is-open .model-box", { timeout: renderMsMax });
      expect(await page.textContent(".opblock-post.is-open .opblock-section-request-body")).toContain("nameOrig");
      // "Try it out" calls the API from the page: the policy lets it reach its own origin.
      const health = ".opblock-get:has(.opblock-summary-path[data-path='/health'])";
      await page.click(`${health} .opblock-summary-path`);
      await page.click(`${health} .try-out__btn`);
      await page.click(`${health} .execute`);
      await page.waitForSelector(`${health} .live-responses-table tr.response .response-col_status`, {
        timeout: renderMsMax,
      });
      expect((await page.textContent(`${health} .live-responses-table tr.response .response-col_status`))?.trim()).toBe(
        "200",
      );
      expect(await page.textContent(`${health} .live-responses-table tr.response .response-col_description`)).toContain(
        '"status": "alive"',
      );
      expect(session.blocked).toEqual([]);
      expect(session.errors).toEqual([]);
    } finally {
      await session.close();
    }
  },
  180_000,
);

test("the page loads scripts and styles from the API only, none inline, under a strict Content-Security-Policy", async () => {
  const response = await fetch(`${api.url}/swagger`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
  const policy = response.headers.get("content-security-policy") ?? "";
  expect(policy).toBe(docsContentSecurityPolicy);
  expect(policy).toContain("script-src 'self';");
  expect(policy).toContain("style-src 'self';");
  expect(policy).not.toContain("unsafe");
  const html = await response.text();
  const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
  expect(scripts.length).toBe(2);
  for (const [, attributes, body] of scripts) {
    expect(attributes).toMatch(/ src="\/swagger\//);
    expect(body).toBe("");
  }
  expect(html).not.toContain("<style");
  expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
});

test("Swagger UI's files are the pinned package's, typed and cached under a URL that carries the version", async () => {
  expect(pinned).toMatch(/^\d+\.\d+\.\d+$/); // exact, so the lockfile and the URL agree
  const html = await (await fetch(`${api.url}/swagger`)).text();
  const base = assetsBase;
  const installed = join(repoRoot, "node_modules", "swagger-ui-dist");
  for (const [file, type] of [
    ["swagger-ui-bundle.js", "text/javascript; charset=utf-8"],
    ["swagger-ui.css", "text/css; charset=utf-8"],
    ["favicon-32x32.png", "image/png"],
  ] as const) {
    expect(html).toContain(`"${base}/${file}"`);
    const response = await fetch(`${api.url}${base}/${file}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(type);
    expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(
      Buffer.from(await response.arrayBuffer()).equals(Buffer.from(await Bun.file(join(installed, file)).bytes())),
    ).toBe(true);
  }
  // Another version, or a file of the package not listed, is not served.
  for (const path of [
    "/swagger/assets/swagger-ui-dist@0.0.1/swagger-ui.css",
    `${base}/package.json`,
    `${base}/index.html`,
  ]) {
    expect((await fetch(`${api.url}${path}`)).status).toBe(404);
  }
  const init = await fetch(`${api.url}/swagger/init.js`);
  expect(init.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  expect(init.headers.get("cache-control")).toBe("no-cache");
  expect(await init.text()).toContain("SwaggerUIBundle(");
});

test("API_DOCS=off: /swagger, its files and /swagger/json answer 404 with the usual error body", async () => {
  for (const path of ["/swagger", "/swagger/json", "/swagger/init.js", `${assetsBase}/swagger-ui.css`]) {
    const response = await fetch(`${apiWithoutDocs.url}${path}`);
    expect(response.status, path).toBe(404);
    expect(await response.json()).toEqual({ error: "not_found", message: `no route ${path}` });
  }
  expect((await fetch(`${apiWithoutDocs.url}/health`)).status).toBe(200);
  expect((await fetch(`${api.url}/swagger/json`)).status).toBe(200);
});
