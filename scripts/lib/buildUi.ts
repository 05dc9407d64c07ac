import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

export interface BuildUiOptions {
  /** Where the static files go; `ui/dist` by default. */
  outDir?: string;
  /** Minified for serving; the e2e test keeps names readable in stack traces. */
  minify?: boolean;
}

const root = join(__dirname, "..", "..");

/**
 * Builds the wallet page: one ES module bundle (ethers, lit, the shared `core/` helpers and the
 * typechain ABIs) and the two static files beside it. Script and styles are external files so that
 * the gateway's default Content-Security-Policy (`script-src 'self'`) allows them.
 */
export async function buildUi(options: BuildUiOptions = {}): Promise<string> {
  const outDir = options.outDir ?? join(root, "ui", "dist");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(root, "ui", "src", "main.ts")],
    outfile: join(outDir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: options.minify ?? true,
    sourcemap: true,
    legalComments: "linked",
    logLevel: "warning",
  });
  for (const file of ["index.html", "styles.css", "favicon.svg"]) copyFileSync(join(root, "ui", file), join(outDir, file));
  return outDir;
}

/**
 * Whether `ui/dist` is missing or older than anything it is built from: the page's sources, `core/`,
 * the ABIs, and the one gateway module the page bundles (its other imports of `server/` are types only).
 */
export function uiNeedsBuild(outDir = join(root, "ui", "dist")): boolean {
  const built = join(outDir, "app.js");
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const newer = (path: string): boolean => {
    if (!existsSync(path)) return false;
    const stat = statSync(path);
    if (!stat.isDirectory()) return stat.mtimeMs > builtAt;
    return readdirSync(path).some((name) => name !== "dist" && newer(join(path, name)));
  };
  return [join(root, "ui"), join(root, "core"), join(root, "typechain-types"), join(root, "server", "chain", "revert.ts")].some(newer);
}
