// Reading an answer's body with a byte cap, shared by every HTTP adapter: a peer that is broken, hostile or
// replaced by a proxy's error page must not make the rotator hold an answer of any size in memory. A declared
// Content-Length above the cap is refused before a byte is read; otherwise bytes are counted as they arrive and
// the request is aborted (undici closes the socket) the moment the count passes the cap, so at most the cap plus
// one chunk is ever held. Each adapter turns AnswerTooLargeError into its own error code; the body is never quoted.
import type { Dispatcher } from "undici";

const KiB = 1024;
export const MiB = 1024 * KiB;

/** Salesforce, Marketing Cloud, chat and audit answers are a few KiB at most: 1 MiB leaves ample room. */
export const DEFAULT_ANSWER_CAP_BYTES = 1 * MiB;

export class AnswerTooLargeError extends Error {
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super(`the answer is larger than ${formatBytes(limitBytes)}`);
    this.name = "AnswerTooLargeError";
    this.limitBytes = limitBytes;
  }
}

/** "1 MiB", "64 KiB", "100 bytes". */
export function formatBytes(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} bytes`;
}

type Answer = Pick<Dispatcher.ResponseData, "headers" | "body">;

/** The body as UTF-8 text; AnswerTooLargeError (request aborted) past `maxBytes`. */
export async function readCappedText(res: Answer, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  await consume(res, maxBytes, (chunk) => chunks.push(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads and drops the body (so the connection can be reused); AnswerTooLargeError past `maxBytes`. */
export async function discardCapped(res: Answer, maxBytes: number): Promise<void> {
  await consume(res, maxBytes, () => {});
}

async function consume(res: Answer, maxBytes: number, keep: (chunk: Buffer) => void): Promise<void> {
  // Destroying the body aborts the request with an error event: nobody else listens for it.
  res.body.on("error", () => {});
  const header = res.headers["content-length"];
  const declared = Number(Array.isArray(header) ? header[0] : header);
  if (header !== undefined && Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy();
    throw new AnswerTooLargeError(maxBytes);
  }
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      res.body.destroy();
      throw new AnswerTooLargeError(maxBytes);
    }
    keep(chunk);
  }
}
