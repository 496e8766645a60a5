// Files of an installed npm package served by the API itself, so a page of
// txlog loads nothing from the internet: the version comes from the package
// installed by the lockfile (package.json pins it exactly), and it is part of
// each URL, so a browser may keep a file for a year and an upgrade changes
// the URL instead of serving a stale copy.
import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { Elysia } from "elysia";

/** The types txlog serves; a file of any other kind is refused at start. */
const contentTypes: Readonly<Record<string, string>> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".woff2": "font/woff2",
  ".json": "application/json; charset=utf-8",
};

const cacheForever = "public, max-age=31536000, immutable";

export interface PackageAssets {
  /** The installed version, as in the URLs. */
  version: string;
  /** The URL path a file is served at. */
  urlOf(file: string): string;
  /** A plugin with one GET route per file. */
  routes: Elysia;
}

/** The content type of `file` by its extension; throws for a kind txlog does not serve. */
export function contentTypeOf(file: string): string {
  const type = contentTypes[extname(file)];
  if (type === undefined) throw new Error(`static assets: no content type for ${file}`);
  return type;
}

/** Where `packageName` is installed and its version, read from its own package.json. */
export function installedPackage(packageName: string): { dir: string; version: string } {
  const manifest = Bun.resolveSync(`${packageName}/package.json`, import.meta.dir);
  const { version } = JSON.parse(readFileSync(manifest, "utf8")) as { version: string };
  return { dir: dirname(manifest), version };
}

/** One file from disk with its content type and cache policy; Bun sends it without reading it into memory. */
export function fileResponse(path: string, cacheControl: string): Response {
  return new Response(Bun.file(path), {
    headers: {
      "content-type": contentTypeOf(path),
      "cache-control": cacheControl,
      "x-content-type-options": "nosniff",
    },
  });
}

/**
 * Serves `files` of the npm package `packageName` at
 * `${prefix}/${packageName}@${version}/${file}`, cached for a year. Every
 * file must exist and have a known type, else this throws at start.
 */
export function packageAssets(packageName: string, files: readonly string[], prefix: string): PackageAssets {
  const { dir, version } = installedPackage(packageName);
  const urlOf = (file: string) => `${prefix}/${packageName}@${version}/${file}`;
  const routes = new Elysia();
  for (const file of files) {
    const path = join(dir, file);
    contentTypeOf(file);
    if (!existsSync(path)) throw new Error(`static assets: ${packageName}@${version} has no file ${file}`);
    routes.get(urlOf(file), () => fileResponse(path, cacheForever), { detail: { hide: true } });
  }
  return { version, urlOf, routes };
}
