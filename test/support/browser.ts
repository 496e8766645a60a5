// Headless Chromium for the tests of txlog's pages, driven by playwright-core
// with Debian's chromium (scripts/check.ts installs it on CI). Every request to
// anything but the loopback host is blocked and recorded, so a page that would
// load a script or a font from the internet fails its test instead of relying
// on a network the users of a payments system may not have.
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

/** Where Debian installs Chromium; CHROMIUM_PATH names another. */
export const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export const chromiumInstalled = existsSync(chromiumPath);

// As the machine's own check runs it: no sandbox as root, and no background
// services that would try to reach the internet at every start.
const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

export interface PageSession {
  page: Page;
  /** URLs the page asked for outside the loopback host, all refused. */
  blocked: string[];
  /** console.error messages and uncaught exceptions, in order. */
  errors: string[];
  close(): Promise<void>;
}

function isLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === "data:" || protocol === "blob:" || protocol === "about:") return true;
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
}

/** A fresh browser and page with the network limited to loopback. */
// Playwright gives each launch a new, empty profile of its own and removes it.
export async function openPage(options: { width?: number; height?: number } = {}): Promise<PageSession> {
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
    const context = await browser.newContext({
      viewport: { width: options.width ?? 1366, height: options.height ?? 768 },
    });
    const blocked: string[] = [];
    const errors: string[] = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (isLoopback(url)) return route.continue();
      blocked.push(url);
      return route.abort("blockedbyclient");
    });
    const page = await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
    const opened = browser;
    return {
      page,
      blocked,
      errors,
      close: () => opened.close(),
    };
  } catch (error) {
    await browser?.close();
    throw error;
  }
}
