// AuditSink that sends each event as one RFC 5424 message (syslog-message.ts has the format) to a syslog server.
// - UDP: one datagram per message, fire-and-forget as UDP is; emit resolves when the datagram left the socket.
// - TCP: octet-counting framing (RFC 6587 3.4.1, "LEN SP MSG"), which rsyslog, syslog-ng and most collectors
//   accept and which, unlike LF framing, survives a newline inside a message. One persistent connection; emit
//   resolves once the frame is handed to the kernel. A connection the server closed is noticed (we keep reading,
//   so its FIN arrives) and replaced on the next emit; a write that still fails on a reused connection is sent
//   once more on a fresh one (a duplicate is better than a gap in an audit trail).
// - Every emit has a deadline of timeoutMs from the call (queue wait included): when it cannot connect or write
//   by then it rejects with AUDIT_FAILED. Messages go out in emit order.
// - The socket is unref'd while idle, so an open syslog connection never keeps a finished CLI run alive.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { isIPv6, type Socket, connect as tcpConnect } from "node:net";
import { hostname as osHostname } from "node:os";
import { RotatorError } from "../../core/errors.ts";
import type { AuditSink } from "../../core/rotation/rotation-ports.ts";
import type { AuditEvent } from "../../core/rotation/rotation-state.ts";
import { type Clock, systemClock } from "../../core/time.ts";
import { transportErrorCode } from "../http/http-client.ts";
import { DEFAULT_MAX_MESSAGE_BYTES, formatSyslogMessage, type SyslogHeader } from "./syslog-message.ts";

export interface SyslogSinkOptions {
  readonly transport: "udp" | "tcp";
  readonly host: string;
  readonly port: number;
  /** APP-NAME, default "eca-rotator". */
  readonly appName?: string;
  /** Syslog facility 0..23, default 13 (log audit). */
  readonly facility?: number;
  /** HOSTNAME, default os.hostname(). */
  readonly hostname?: string;
  /** Deadline of one emit, from the call, default 5000. */
  readonly timeoutMs?: number;
  /** Largest message in bytes (before TCP framing), default 8096, rsyslog's default maxMessageSize. */
  readonly maxMessageBytes?: number;
  readonly clock?: Clock;
}

export class SyslogAuditSink implements AuditSink {
  readonly #opts: Required<Omit<SyslogSinkOptions, "clock" | "maxMessageBytes">>;
  readonly #clock: Clock;
  readonly #maxBytes: number;
  #queue: Promise<unknown> = Promise.resolve();
  #tcp: Socket | undefined;
  #udp: UdpSocket | undefined;
  #closed = false;

  constructor(opts: SyslogSinkOptions) {
    const facility = opts.facility ?? 13;
    if (!Number.isInteger(facility) || facility < 0 || facility > 23) {
      throw new RotatorError("CONFIG_INVALID", `syslog facility must be 0..23, got ${facility}`);
    }
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
      throw new RotatorError("CONFIG_INVALID", `syslog port must be 1..65535, got ${opts.port}`);
    }
    this.#opts = {
      transport: opts.transport,
      host: opts.host,
      port: opts.port,
      appName: opts.appName ?? "eca-rotator",
      facility,
      hostname: opts.hostname ?? osHostname(),
      timeoutMs: opts.timeoutMs ?? 5000,
    };
    this.#clock = opts.clock ?? systemClock;
    this.#maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** "syslog tcp://127.0.0.1:514": where messages go, for messages and logs. */
  get target(): string {
    const host = isIPv6(this.#opts.host) ? `[${this.#opts.host}]` : this.#opts.host;
    return `syslog ${this.#opts.transport}://${host}:${this.#opts.port}`;
  }

  emit(event: AuditEvent): Promise<void> {
    if (this.#closed)
      return Promise.reject(this.#failure("the syslog audit sink is closed", undefined, false));
    const deadline = Date.now() + this.#opts.timeoutMs;
    let message: Buffer;
    try {
      message = Buffer.from(formatSyslogMessage(event, this.#header(), this.#maxBytes), "utf8");
    } catch (err) {
      return Promise.reject(err);
    }
    const send =
      this.#opts.transport === "tcp"
        ? () => this.#sendTcp(Buffer.concat([Buffer.from(`${message.length} `), message]), deadline)
        : () => this.#sendUdp(message, deadline);
    const done = this.#queue.then(send);
    this.#queue = done.catch(() => undefined);
    return done;
  }

  /** Resolves when every event emitted so far was sent (or has failed). */
  async flush(): Promise<void> {
    await this.#queue;
  }

  /** Sends what is queued, then closes the connection. Later emits reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    const tcp = this.#tcp;
    this.#tcp = undefined;
    if (tcp && !tcp.destroyed) {
      await withDeadline(
        new Promise<void>((resolve) => tcp.end(() => resolve())),
        Date.now() + this.#opts.timeoutMs,
      ).catch(() => undefined);
      tcp.destroy();
    }
    const udp = this.#udp;
    this.#udp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
  }

  #header(): SyslogHeader {
    return {
      facility: this.#opts.facility,
      hostname: this.#opts.hostname,
      appName: this.#opts.appName,
      procId: String(process.pid),
      timestamp: this.#clock.now(),
    };
  }

  async #sendTcp(frame: Buffer, deadline: number): Promise<void> {
    if (Date.now() >= deadline) throw this.#timedOut(); // spent its time in the queue; the connection is fine
    for (let attempt = 0; ; attempt++) {
      const reused = this.#tcp !== undefined;
      let socket: Socket | undefined;
      try {
        socket = this.#tcp ?? (await this.#connect(deadline));
        socket.ref();
        await withDeadline(writeFrame(socket, frame), deadline);
        socket.unref();
        return;
      } catch (err) {
        if (socket) this.#dropTcp(socket);
        const timedOut = err instanceof DeadlineError;
        if (reused && !timedOut && attempt === 0) continue; // the server may have closed it since our last write
        throw timedOut
          ? this.#timedOut()
          : this.#failure(`cannot send the audit event to ${this.target}`, err, true);
      }
    }
  }

  #connect(deadline: number): Promise<Socket> {
    const socket = tcpConnect({ host: this.#opts.host, port: this.#opts.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    // Any error or end makes this connection useless; the next emit opens another. The listener stays for the
    // socket's life so a late error is never an unhandled 'error' event.
    socket.on("error", () => this.#dropTcp(socket));
    socket.on("end", () => this.#dropTcp(socket));
    socket.on("close", () => this.#dropTcp(socket));
    socket.resume(); // read (and discard) so the server's FIN is seen as 'end'
    const connected = new Promise<Socket>((resolve, reject) => {
      socket.once("connect", () => resolve(socket));
      socket.once("error", reject);
      socket.once("close", () => reject(new Error("connection closed while connecting")));
    });
    return withDeadline(connected, deadline).then(
      (s) => {
        this.#tcp = s;
        return s;
      },
      (err: unknown) => {
        socket.destroy();
        throw err;
      },
    );
  }

  #dropTcp(socket: Socket): void {
    if (this.#tcp === socket) this.#tcp = undefined;
    socket.destroy();
  }

  async #sendUdp(message: Buffer, deadline: number): Promise<void> {
    if (!this.#udp) {
      const udp = createSocket(isIPv6(this.#opts.host) ? "udp6" : "udp4");
      udp.on("error", () => {
        if (this.#udp === udp) this.#udp = undefined;
        udp.close();
      });
      udp.unref();
      this.#udp = udp;
    }
    const udp = this.#udp;
    try {
      await withDeadline(
        new Promise<void>((resolve, reject) =>
          udp.send(message, this.#opts.port, this.#opts.host, (err) => (err ? reject(err) : resolve())),
        ),
        deadline,
      );
    } catch (err) {
      if (err instanceof DeadlineError) throw this.#timedOut();
      throw this.#failure(`cannot send the audit event to ${this.target}`, err, true);
    }
  }

  #timedOut(): RotatorError {
    return this.#failure(
      `cannot send the audit event to ${this.target} within ${this.#opts.timeoutMs} ms`,
      undefined,
      true,
    );
  }

  #failure(what: string, cause: unknown, retryable: boolean): RotatorError {
    const code = cause === undefined ? undefined : transportErrorCode(cause);
    return new RotatorError("AUDIT_FAILED", code ? `${what} (${code})` : what, {
      retryable,
      context: {
        transport: this.#opts.transport,
        host: this.#opts.host,
        port: this.#opts.port,
        errorCode: code,
      },
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

class DeadlineError extends Error {
  override readonly name = "DeadlineError";
}

function writeFrame(socket: Socket, frame: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onClose = () => reject(new Error("connection closed while writing"));
    socket.once("close", onClose);
    socket.write(frame, (err) => {
      socket.off("close", onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** `work`, or a DeadlineError at `deadline` (epoch ms), whichever comes first. */
function withDeadline<T>(work: Promise<T>, deadline: number): Promise<T> {
  const ms = deadline - Date.now();
  if (ms <= 0) return Promise.reject(new DeadlineError("deadline passed"));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError("deadline passed")), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
