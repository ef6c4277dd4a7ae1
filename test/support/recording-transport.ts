// The rotator's own HTTP transport, recording every request it sends (each retry counts), for tests that prove
// how many calls an adapter makes. Shared by the Vault and Salesforce adapter tests.
import { createHttpTransport, type HttpTransport } from "../../src/adapters/http/http-client.ts";

export interface RecordingTransport {
  readonly transport: HttpTransport;
  /** "METHOD /path" (no query) of every request sent, in order. */
  readonly calls: string[];
  close(): Promise<void>;
}

export function recordingTransport(): RecordingTransport {
  const inner = createHttpTransport(10_000);
  const calls: string[] = [];
  const transport: HttpTransport = {
    request(url, init) {
      calls.push(`${init.method} ${new URL(url).pathname}`);
      return inner.request(url, init);
    },
    close: () => inner.close(),
  };
  return { transport, calls, close: () => inner.close() };
}
