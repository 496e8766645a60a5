import { afterAll, beforeAll, expect, test } from "bun:test";
import { chromiumInstalled, openPage, type PageSession } from "./browser.ts";

// A page that reaches for the internet and fails loudly, served on loopback:
// the fixture must refuse the first and report the second.
const html = `<!doctype html><html><head>
<script src="https://cdn.example.com/lib.js"></script>
</head><body><h1 id="title">txlog fixture</h1>
<script>fetch("/local").then((r) => r.text()).then((t) => { document.getElementById("title").dataset.local = t; });
console.error("fixture error");</script></body></html>`;

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: (request) =>
    new URL(request.url).pathname === "/local"
      ? new Response("served")
      : new Response(html, { headers: { "content-type": "text/html" } }),
});

let session: PageSession;
beforeAll(async () => {
  if (chromiumInstalled) session = await openPage();
});
afterAll(async () => {
  await session?.close();
  server.stop(true);
});

test.skipIf(!chromiumInstalled)("the page reaches loopback, never the internet, and its errors are kept", async () => {
  await session.page.goto(`http://127.0.0.1:${server.port}/`);
  await session.page.waitForSelector("#title[data-local='served']");
  expect(session.blocked).toEqual(["https://cdn.example.com/lib.js"]);
  expect(session.errors.some((e) => e.includes("fixture error"))).toBe(true);
});
