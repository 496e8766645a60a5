// GET / and /dashboard/*: the live dashboard's page, its script and styles,
// and the chart library from node_modules (uplot, pinned in package.json).
// No build step and nothing from a CDN: a fixed table of files, each served
// with its content type and a Content-Security-Policy that allows only this
// origin, so no inline script or foreign host can run in the page. Open to
// all: the page holds no data; GET /dashboard/data does.
import { join } from "node:path";
import { Elysia } from "elysia";

const pageDir = join(import.meta.dir, "..", "dashboard");

function packageFile(path: string): string {
  return Bun.resolveSync(path, import.meta.dir);
}

/** Route → file and content type. Only these paths are served, so no request can name another file. */
const assets: Record<string, { file: string; type: string }> = {
  "/": { file: join(pageDir, "index.html"), type: "text/html; charset=utf-8" },
  "/dashboard/dashboard.js": { file: join(pageDir, "dashboard.js"), type: "text/javascript; charset=utf-8" },
  "/dashboard/dashboard.css": { file: join(pageDir, "dashboard.css"), type: "text/css; charset=utf-8" },
  "/dashboard/vendor/uPlot.esm.js": {
    file: packageFile("uplot/dist/uPlot.esm.js"),
    type: "text/javascript; charset=utf-8",
  },
  "/dashboard/vendor/uPlot.min.css": { file: packageFile("uplot/dist/uPlot.min.css"), type: "text/css; charset=utf-8" },
};

export const dashboardContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function serve(path: string): Response {
  const asset = assets[path] as { file: string; type: string };
  return new Response(Bun.file(asset.file), {
    headers: {
      "content-type": asset.type,
      "content-security-policy": dashboardContentSecurityPolicy,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      // Revalidated each load, so a new version of txlog shows at once.
      "cache-control": "no-cache",
    },
  });
}

export function dashboardPageRoutes() {
  let app = new Elysia({ name: "dashboard-page", normalize: false });
  for (const path of Object.keys(assets)) {
    app = app.get(path, () => serve(path), { detail: { hide: true } }) as unknown as typeof app;
  }
  return app;
}
