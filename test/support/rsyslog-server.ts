// A real rsyslogd (Debian package `rsyslog`) for the syslog sink tests: imudp and imtcp on free loopback ports,
// every received message written as one JSON object per line (its parsed RFC 5424 fields) to a temp file. It runs
// in the foreground (-n) with its own config, pid file and work directory in a temp folder: no imuxsock, no
// imklog, nothing under /etc or /dev/log is touched.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, stopProcess } from "./vault-backend.ts";

const RSYSLOGD = "/usr/sbin/rsyslogd";

/** One received message as rsyslog parsed it. */
export interface SyslogRecord {
  readonly pri: string;
  readonly protocol: string;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appname: string;
  readonly procid: string;
  readonly msgid: string;
  /** The structured data as received ("-" for none). */
  readonly sd: string;
  readonly msg: string;
}

export interface RsyslogServer {
  readonly udpPort: number;
  readonly tcpPort: number;
  /** The file rsyslog writes the records to (grep it for canaries). */
  readonly outFile: string;
  /** Every record so far, in arrival order. */
  records(): Promise<SyslogRecord[]>;
  /** Waits until at least n records arrived; fails naming how many did. */
  waitForRecords(n: number, timeoutMs?: number): Promise<SyslogRecord[]>;
  /** Stops rsyslogd (its TCP clients see the connection closed). */
  stop(): Promise<void>;
  /** Starts it again on the same ports and files. */
  start(): Promise<void>;
  /** stop() and delete the temp folder. */
  dispose(): Promise<void>;
}

function config(dir: string, udpPort: number, tcpPort: number, outFile: string): string {
  return `global(workDirectory="${dir}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="${udpPort}")
input(type="imtcp" address="127.0.0.1" port="${tcpPort}")
template(name="ecaRecord" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="protocol" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="appname" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
*.* action(type="omfile" file="${outFile}" template="ecaRecord")
`;
}

export async function startRsyslog(): Promise<RsyslogServer> {
  if (!existsSync(RSYSLOGD)) {
    throw new Error(
      `${RSYSLOGD} not found: install the Debian package \`rsyslog\` (./test.sh does it with apt-get when it can)`,
    );
  }
  const dir = await mkdtemp(path.join(tmpdir(), "eca-rsyslog-"));
  const udpPort = await freePort();
  let tcpPort = await freePort();
  while (tcpPort === udpPort) tcpPort = await freePort();
  const outFile = path.join(dir, "received.jsonl");
  const confFile = path.join(dir, "rsyslog.conf");
  await writeFile(confFile, config(dir, udpPort, tcpPort, outFile));
  let proc: ChildProcess | undefined;
  let output = "";

  const records = async (): Promise<SyslogRecord[]> => {
    const text = await readFile(outFile, "utf8").catch(() => "");
    // rsyslog writes a long record in more than one write: a last line without its newline is still arriving,
    // and the caller polls again.
    return text
      .slice(0, text.lastIndexOf("\n") + 1)
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as SyslogRecord);
  };

  const start = async (): Promise<void> => {
    output = "";
    const child = spawn(RSYSLOGD, ["-n", "-f", confFile, "-i", path.join(dir, "rsyslogd.pid")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    proc = child;
    await waitForListening(tcpPort, child, () => output);
  };

  const stop = async (): Promise<void> => {
    if (proc) await stopProcess(proc);
    proc = undefined;
  };

  await start();
  return {
    udpPort,
    tcpPort,
    outFile,
    records,
    async waitForRecords(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = await records();
        if (got.length >= n) return got;
        if (Date.now() > deadline) {
          throw new Error(
            `rsyslog received ${got.length} of ${n} messages within ${timeoutMs} ms\n${output}`,
          );
        }
        await sleep(25);
      }
    },
    stop,
    start,
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** rsyslog opens its inputs after parsing the config; the TCP port accepting is the sign it is ready. */
async function waitForListening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rsyslogd exited with ${child.exitCode}:\n${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) {
      await sleep(50); // imudp binds in the same startup pass; a moment covers the ordering
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`rsyslogd did not listen on ${port} within 10 s:\n${output()}`);
    await sleep(25);
  }
}
