// The API's documentation: the OpenAPI document at /swagger/json, generated
// from the routes' schemas, and Swagger UI at /swagger, served from the pinned
// swagger-ui-dist package in node_modules so it works with no internet and
// runs no third-party script fetched at view time. API_DOCS=off mounts none
// of it: both answer 404.
import { join } from "node:path";
import { Elysia } from "elysia";
import type { Config } from "../runtime/config.ts";
import { securitySchemes } from "./guard.ts";
import { openapi } from "./openapi.ts";
import { fileResponse, packageAssets } from "./static-assets.ts";

export const docsPath = "/swagger";
export const specPath = `${docsPath}/json`;
const initPath = `${docsPath}/init.js`;
const initFile = join(import.meta.dir, "swagger-init.js");

const documentation = {
  info: {
    title: "txlog",
    version: "0.1.0",
    description:
      "Event-driven financial transaction log: POST validates and hands to Kafka (202 after the broker's ack); a worker writes to PostgreSQL; reports read PostgreSQL.",
  },
  tags: [
    { name: "transactions", description: "logging and looking up transactions" },
    { name: "reports", description: "reads of the stored log" },
    { name: "health", description: "dependencies" },
  ],
  components: { securitySchemes },
};

/**
 * Scripts and styles from this origin only, no inline code (the init script
 * is a file of its own), no frames, no form posts elsewhere. Swagger UI's CSS
 * draws its icons as data: images.
 */
export const docsContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function page(assetUrl: (file: string) => string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>txlog API</title>
<link rel="icon" type="image/png" href="${assetUrl("favicon-32x32.png")}">
<link rel="stylesheet" href="${assetUrl("swagger-ui.css")}">
</head>
<body>
<div id="swagger-ui" data-spec-url="${specPath}"></div>
<script src="${assetUrl("swagger-ui-bundle.js")}"></script>
<script src="${initPath}"></script>
</body>
</html>
`;
}

export function apiDocs(config: Pick<Config, "apiDocs">) {
  const plugin = new Elysia();
  if (!config.apiDocs) return plugin;
  const ui = packageAssets(
    "swagger-ui-dist",
    ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"],
    `${docsPath}/assets`,
  );
  const html = page(ui.urlOf);
  const hidden = { detail: { hide: true } };
  return plugin
    .use(openapi({ path: docsPath, specPath, provider: null, documentation }))
    .use(ui.routes)
    .get(
      docsPath,
      () =>
        new Response(html, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "content-security-policy": docsContentSecurityPolicy,
            "cache-control": "no-cache",
            "x-content-type-options": "nosniff",
          },
        }),
      hidden,
    )
    .get(initPath, () => fileResponse(initFile, "no-cache"), hidden);
}
