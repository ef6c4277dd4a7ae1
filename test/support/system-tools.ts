// System programs some tests drive for real (chromium, rsyslogd, promtool). test.sh's setup installs them with
// apt-get when it can; when one is still missing the test fails (never skips) naming the Debian package.
import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";

const DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

export function requireTool(binary: string, debianPackage: string): string {
  const dirs = [...(process.env["PATH"] ?? "").split(":").filter(Boolean), ...DIRS];
  for (const dir of dirs) {
    const candidate = `${dir}/${binary}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${binary} is not installed: this test needs the Debian package "${debianPackage}" ` +
      `(./test.sh installs it with apt-get when run as root; else: sudo apt-get install ${debianPackage})`,
  );
}

export async function runTool(
  binary: string,
  args: readonly string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin.end(input ?? "");
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, stderr };
}

/**
 * A self-signed certificate and its key (RSA 2048, one day), written by openssl into `dir` as `<name>.crt` and
 * `<name>.key`; `san` adds a subjectAltName extension (e.g. "IP:127.0.0.1"). Returns the two files' paths.
 */
export function selfSignedCert(
  dir: string,
  name: string,
  subject: string,
  san?: string,
): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      subject,
      ...(san === undefined ? [] : ["-addext", `subjectAltName=${san}`]),
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "ignore" },
  );
  return { certFile, keyFile };
}
