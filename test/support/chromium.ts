// Debian's chromium driven by playwright-core (no browser download). The tests run as root in a container,
// hence --no-sandbox; /dev/shm is small there, hence --disable-dev-shm-usage.

import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

function chromiumPath(): string {
  return process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
}

/** Launches headless Chromium; fails (never skips) with the Debian package to install when it is missing. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}: install the Debian package \`chromium\` (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}
