// What every browser test here shares: the base URL from the command line,
// a headless Chromium (Debian's, or $CHROMIUM) with a throwaway profile,
// and `fail`, which prints why and exits 1.
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The `http://127.0.0.1:PORT` the test was given; exits 2 without one. */
export function baseUrl(script) {
  const base = process.argv[2];
  if (!base) {
    console.error(`usage: node ${script} http://127.0.0.1:PORT`);
    process.exit(2);
  }
  return base;
}

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

/** A headless Chromium context that makes no background requests. */
export function launch() {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "brisk-chromium-")), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
