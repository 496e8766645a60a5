// Serving files of an installed npm package: the installed version in every
// URL, the right type, and a mistake in the list stops the API at start
// instead of a page that 404s later.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { contentTypeOf, installedPackage, packageAssets } from "../../src/api/static-assets.ts";
import { repoRoot } from "../support/processes.ts";

test("the installed version is the one in the package's own package.json, and it is in every URL", async () => {
  const manifest = await Bun.file(join(repoRoot, "node_modules", "swagger-ui-dist", "package.json")).json();
  const { version, dir } = installedPackage("swagger-ui-dist");
  expect(version).toBe(manifest.version);
  expect(dir).toBe(join(repoRoot, "node_modules", "swagger-ui-dist"));
  const assets = packageAssets("swagger-ui-dist", ["swagger-ui.css"], "/static");
  expect(assets.urlOf("swagger-ui.css")).toBe(`/static/swagger-ui-dist@${version}/swagger-ui.css`);
  const response = await assets.routes.handle(new Request(`http://localhost${assets.urlOf("swagger-ui.css")}`));
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/css; charset=utf-8");
  expect((await response.text()).length).toBeGreaterThan(1000);
});

test("a file the package does not have, or of a type txlog does not serve, is refused at start", () => {
  expect(() => packageAssets("swagger-ui-dist", ["swagger-ui.css", "no-such-file.js"], "/static")).toThrow(
    /^static assets: swagger-ui-dist@\d+\.\d+\.\d+ has no file no-such-file\.js$/,
  );
  expect(() => packageAssets("swagger-ui-dist", ["index.html"], "/static")).toThrow(
    "static assets: no content type for index.html",
  );
  expect(() => installedPackage("no-such-package-of-txlog")).toThrow();
});

test("content types by extension", () => {
  expect(contentTypeOf("a/b.js")).toBe("text/javascript; charset=utf-8");
  expect(contentTypeOf("b.css")).toBe("text/css; charset=utf-8");
  expect(contentTypeOf("c.png")).toBe("image/png");
  expect(contentTypeOf("d.svg")).toBe("image/svg+xml");
  expect(contentTypeOf("e.woff2")).toBe("font/woff2");
  expect(() => contentTypeOf("f")).toThrow("no content type for f");
});
