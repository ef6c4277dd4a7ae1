// The shared body cap against real loopback servers: an answer up to the cap is read whole, one byte more is
// refused, a declared Content-Length above the cap is refused before any body byte is sent, and a streamed
// answer is cut off close to the cap instead of being read to its end.
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  AnswerTooLargeError,
  discardCapped,
  formatBytes,
  MiB,
  readCappedText,
} from "../../../src/adapters/http/capped-body.ts";
import { FLOOD_BYTES, type FloodServer, startFloodServer } from "../../support/flood-server.ts";

let server: FloodServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe("readCappedText", () => {
  it("reads an answer of exactly the cap and refuses one byte more", async () => {
    const cap = 4096;
    server = await startFloodServer({
      mode: "stream",
      answer: (_m, path) => ({ status: 200, body: "é".repeat(cap / 2) + (path === "/over" ? "x" : "") }),
    });
    const exact = await request(`${server.url}/exact`);
    expect(await readCappedText(exact, cap)).toBe("é".repeat(cap / 2));
    const over = await request(`${server.url}/over`);
    const err = await caught(readCappedText(over, cap));
    expect(err).toBeInstanceOf(AnswerTooLargeError);
    expect((err as Error).message).toBe("the answer is larger than 4 KiB");
  });

  it("refuses a declared Content-Length above the cap before a byte of the body is sent", async () => {
    server = await startFloodServer({ mode: "declared" });
    const res = await request(server.url);
    const err = await caught(readCappedText(res, MiB));
    expect((err as Error).message).toBe("the answer is larger than 1 MiB");
    expect(await server.settled()).toEqual([0]);
  });

  it("stops reading a 200 MiB stream soon after the cap, closing the connection", async () => {
    server = await startFloodServer({ mode: "stream" });
    const res = await request(server.url);
    expect(res.headers["content-length"]).toBeUndefined();
    const err = await caught(readCappedText(res, MiB));
    expect(err).toBeInstanceOf(AnswerTooLargeError);
    const [sent = FLOOD_BYTES] = await server.settled();
    // The cap, plus what the loopback socket buffers held when the client hung up.
    expect(sent).toBeLessThan(17 * MiB);
  });

  it("discards up to the cap too, and refuses past it", async () => {
    server = await startFloodServer({
      mode: "stream",
      answer: (_m, p) => (p === "/small" ? { status: 200, body: "ok" } : undefined),
    });
    await discardCapped(await request(`${server.url}/small`), MiB);
    const err = await caught(discardCapped(await request(server.url), MiB));
    expect(err).toBeInstanceOf(AnswerTooLargeError);
    expect((await server.settled())[0]).toBeLessThan(17 * MiB);
  });

  it("names sizes the way the messages do", () => {
    expect([formatBytes(MiB), formatBytes(64 * MiB), formatBytes(1024), formatBytes(1000)]).toEqual([
      "1 MiB",
      "64 MiB",
      "1 KiB",
      "1000 bytes",
    ]);
  });
});
