// The dashboard at /, as a user gets it: the API and the worker run as real
// processes against this run's topics and database, and headless Chromium
// (network limited to loopback) watches a transaction posted during the test
// and a message the worker rejects appear without a reload.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../scripts/broker.ts";
import { dashboardContentSecurityPolicy } from "../../src/api/routes/dashboard-page.ts";
import { createProducer, produce } from "../../src/kafka/client.ts";
import { encodeMessage } from "../../src/transaction/message.ts";
import { chromiumInstalled, openPage, type PageSession } from "../support/browser.ts";
import { paymentBody, processEnv, repoRoot, startProcess, type TxlogProcess } from "../support/processes.ts";
import {
  eventually,
  freshDatabase,
  kafkaConnection,
  sampleTransaction,
  type TestDatabase,
  testConfig,
  testTopics,
} from "../support/run.ts";

const topics = testTopics("dashboard");
const screenshotDir = join(tmpdir(), "txlog-test-output");
let db: TestDatabase;
let apiUrl: string;
const processes: TxlogProcess[] = [];

beforeAll(async () => {
  db = await freshDatabase("dashboard");
  const port = await freePort();
  const env = processEnv(topics, db.url, {
    KAFKA_BROKERS: testConfig().kafkaBrokers.join(","),
    PORT: String(port),
    WORKER_PORT: "0",
  });
  apiUrl = `http://127.0.0.1:${port}`;
  const api = startProcess("src/api.ts", env);
  processes.push(api);
  await eventually(
    async () =>
      (await fetch(`${apiUrl}/health`).then(
        (r) => r.ok,
        () => false,
      ))
        ? true
        : undefined,
    60_000,
    `API healthy (output: ${api.output.text})`,
  );
  processes.push(startProcess("src/worker.ts", env));
}, 90_000);

afterAll(async () => {
  for (const p of processes) p.child.kill("SIGTERM");
  await Promise.all(processes.map((p) => p.child.exited));
  await db?.drop();
}, 60_000);

describe("the page and its files", () => {
  const files: [string, string, string][] = [
    ["/", "text/html", join(repoRoot, "src/api/dashboard/index.html")],
    ["/dashboard/dashboard.js", "text/javascript", join(repoRoot, "src/api/dashboard/dashboard.js")],
    ["/dashboard/dashboard.css", "text/css", join(repoRoot, "src/api/dashboard/dashboard.css")],
    ["/dashboard/vendor/uPlot.esm.js", "text/javascript", join(repoRoot, "node_modules/uplot/dist/uPlot.esm.js")],
    ["/dashboard/vendor/uPlot.min.css", "text/css", join(repoRoot, "node_modules/uplot/dist/uPlot.min.css")],
  ];
  test.each(files)("GET %s answers the file as %s, under a policy of 'self' only", async (path, type, file) => {
    const response = await fetch(`${apiUrl}${path}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith(type);
    expect(response.headers.get("content-security-policy")).toBe(dashboardContentSecurityPolicy);
    expect(await response.text()).toBe(readFileSync(file, "utf8"));
  });

  test("the policy allows scripts, styles and requests from the API's own origin only", () => {
    const directives = dashboardContentSecurityPolicy.split("; ");
    expect(directives).toContain("script-src 'self'");
    expect(directives).toContain("connect-src 'self'");
    expect(dashboardContentSecurityPolicy).not.toContain("unsafe-inline");
    expect(dashboardContentSecurityPolicy).not.toContain("http");
  });

  test("the page names only files of its own origin, and no inline script", () => {
    const html = readFileSync(join(repoRoot, "src/api/dashboard/index.html"), "utf8");
    const references = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1] as string);
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) expect(reference).toMatch(/^\/dashboard\//);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });

  test("no other file is served: a path beside the listed ones is a 404", async () => {
    for (const path of ["/dashboard/index.html", "/dashboard/vendor/uPlot.cjs.js", "/dashboard/../package.json"]) {
      expect((await fetch(`${apiUrl}${path}`)).status).toBe(404);
    }
  });
});

async function postTransaction(nameOrig: string): Promise<string> {
  const response = await fetch(`${apiUrl}/transaction`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...paymentBody, amount: "1234567.89", nameOrig, nameDest: "M-dashboard" }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { transactionId: string }).transactionId;
}

/** A message the worker can never write (three fractional digits): it ends as a rejection. */
async function produceRejected(): Promise<string> {
  const producer = createProducer(kafkaConnection());
  try {
    const bad = sampleTransaction({ amount: "12.345", acceptedAt: new Date().toISOString() });
    await produce(producer, [{ topic: topics.topic, key: Buffer.from(bad.nameOrig), value: encodeMessage(bad) }]);
    return bad.transactionId;
  } finally {
    await producer.close();
  }
}

describe.skipIf(!chromiumInstalled)("in headless Chromium", () => {
  let session: PageSession;
  beforeAll(async () => {
    session = await openPage({ width: 1366, height: 768 });
  });
  afterAll(async () => {
    await session?.close();
  });

  test("the page renders, and a transaction and a rejection made meanwhile appear without a reload", async () => {
    const { page } = session;
    await page.goto(`${apiUrl}/`);
    await page.waitForSelector("body[data-updates]", { timeout: 15_000 }).catch((error) => {
      throw new Error(
        `the page never rendered: ${error.message}; errors: ${session.errors}; blocked: ${session.blocked}`,
      );
    });
    await page.waitForSelector("#chart canvas");
    expect(await page.locator("#lag tbody tr").count()).toBe(3);
    expect(await page.textContent("#status")).toContain("live");

    const nameOrig = `C-dash-${Date.now()}`;
    await postTransaction(nameOrig);
    const row = page.locator("#latest tbody tr", { hasText: nameOrig });
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain("1,234,567.89");
    await produceRejected();
    await page.locator("#rejections tbody tr", { hasText: "invalid_message" }).waitFor({ timeout: 30_000 });
    // The summary is refreshed every few seconds: the header catches up without a reload.
    await page.locator("#total-count", { hasText: /^1$/ }).waitFor({ timeout: 30_000 });

    mkdirSync(screenshotDir, { recursive: true });
    const file = join(screenshotDir, "dashboard.png");
    await page.screenshot({ path: file, fullPage: true });
    console.log(`dashboard screenshot: ${file}`);
    expect(session.errors).toEqual([]);
    expect(session.blocked).toEqual([]);
  }, 90_000);
});
