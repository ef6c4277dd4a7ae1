// An undici Agent that records every request it dispatches (each retry counts), for tests that prove how many
// calls an adapter makes. Shared by the Vault and Salesforce adapter tests.
import { Agent, type Dispatcher } from "undici";

export interface RecordingDispatcher {
  readonly dispatcher: Dispatcher;
  /** "METHOD /path" (no query) of every request sent, in order. */
  readonly calls: string[];
  close(): Promise<void>;
}

export function recordingDispatcher(): RecordingDispatcher {
  const agent = new Agent({ headersTimeout: 10_000, bodyTimeout: 10_000, connect: { timeout: 5_000 } });
  const calls: string[] = [];
  const dispatcher = agent.compose((dispatch) => (opts, handler) => {
    calls.push(`${opts.method} ${String(opts.path).split("?")[0]}`);
    return dispatch(opts, handler);
  });
  return { dispatcher, calls, close: () => agent.close() };
}
