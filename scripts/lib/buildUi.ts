import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
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
