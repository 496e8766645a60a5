// The page's own behaviour in headless Chromium, against an in-process API:
// a section whose source is down says so while the rest renders, and an API
// that asks for a key gets one from a small form, kept in sessionStorage and
// sent as a Bearer token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "../../../scripts/broker.ts";
import { createApp, createDashboard } from "../../../src/api/app.ts";
import type { Config } from "../../../src/runtime/config.ts";
import { chromiumInstalled, openPage, type PageSession } from "../../support/browser.ts";
import { discardingBatcher, freshDatabase, type TestDatabase, testConfig, testTopics } from "../../support/run.ts";

const key = "dashboard-test-key";
let db: TestDatabase;
let server: ReturnType<typeof Bun.serve>;
let session: PageSession;
let dashboard: ReturnType<typeof createDashboard>;
/** Authorization headers the data endpoint received, in order. */
const authorizations: (string | null)[] = [];

beforeAll(async () => {
  db = await freshDatabase("dashboard_page");
  // Kafka where nothing listens: the lag section fails, the others do not.
  const config: Config = testConfig({
    ...testTopics("dashboard-page"),
    databaseUrl: db.url,
    kafkaBrokers: [`127.0.0.1:${await freePort()}`],
  });
  dashboard = createDashboard(config, db.sql);
  const app = createApp({
    config,
    sql: db.sql,
    batcher: discardingBatcher(),
    shutdown: { requested: false },
    kafkaAnswers: async () => false,
    dashboard,
  });
  // The data endpoint behind a key, as the API answers once keys are configured.
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      if (new URL(request.url).pathname === "/dashboard/data") {
        authorizations.push(request.headers.get("authorization"));
        if (request.headers.get("authorization") !== `Bearer ${key}`) {
          return Response.json(
            { error: "unauthorized", message: "an API key with scope read is needed" },
            { status: 401 },
          );
        }
      }
      return app.handle(request);
    },
  });
  if (chromiumInstalled) session = await openPage();
});

afterAll(async () => {
  await session?.close();
  server?.stop(true);
  await dashboard?.close();
  await db?.drop();
});

describe.skipIf(!chromiumInstalled)("the page", () => {
  test("asks for a key on 401, keeps it for the tab only and sends it as a Bearer token", async () => {
    const { page } = session;
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.locator("#key-form").waitFor({ state: "visible" });
    expect(await page.textContent("#key-error")).toContain("scope read");
    expect(authorizations[0]).toBeNull();
    await page.fill("#key-input", key);
    await page.click("#key-form button");
    await page.waitForSelector("body[data-updates]");
    expect(await page.locator("#key-form").isVisible()).toBe(false);
    expect(authorizations.at(-1)).toBe(`Bearer ${key}`);
    const stored = JSON.parse(
      await page.evaluate<string>("JSON.stringify({ session: { ...sessionStorage }, local: { ...localStorage } })"),
    );
    expect(stored).toEqual({ session: { "txlog.apiKey": key }, local: {} });
  });

  test("shows 'lag unavailable' with Kafka's error while the other sections render", async () => {
    const { page } = session;
    const lagError = page.locator("#lag-error");
    await lagError.waitFor({ state: "visible" });
    expect(await lagError.textContent()).toStartWith("lag unavailable: ");
    expect(await page.textContent("#total-lag")).toBe("–");
    expect(await page.textContent("#total-count")).toBe("0");
    expect(await page.textContent("#latest tbody")).toContain("nothing stored yet");
    expect(await page.locator("#summary-error").isVisible()).toBe(false);
    expect(session.errors.filter((e) => !e.includes("401"))).toEqual([]);
    expect(session.blocked).toEqual([]);
  });
});
