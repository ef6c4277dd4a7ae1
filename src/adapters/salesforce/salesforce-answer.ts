// Turning one HTTP answer into a typed value: 2xx or a RotatorError, then JSON validated by a zod schema.
// A non-idempotent call (POST staged, PATCH rotate) whose 2xx answer cannot be read has still taken effect:
// its error is flagged uncertain.
import type { z } from "zod";
import {
  describeIssues,
  errorFromRestAnswer,
  type SalesforceCall,
  unexpectedResponse,
} from "./salesforce-errors.ts";
import { bodyValue, type HttpAnswer } from "./salesforce-http.ts";

export function callOf(step: string, method: string, path: string, idempotent: boolean): SalesforceCall {
  return { step, method, path, idempotent };
}

/** The answer when it is 2xx or an accepted status; otherwise the mapped RotatorError. */
export function requireOk(
  answer: HttpAnswer,
  call: SalesforceCall,
  accept: readonly number[] = [],
): HttpAnswer {
  if ((answer.status >= 200 && answer.status < 300) || accept.includes(answer.status)) return answer;
  throw errorFromRestAnswer(call, answer.status, bodyValue(answer.body));
}

export function parseAnswer<S extends z.ZodType>(
  answer: HttpAnswer,
  call: SalesforceCall,
  schema: S,
): z.output<S> {
  const uncertain = !call.idempotent;
  if (answer.body.kind !== "json") {
    throw unexpectedResponse(call, answer.status, "the answer is not JSON (HTML page or truncated body)", {
      uncertain,
    });
  }
  const parsed = schema.safeParse(answer.body.value);
  if (!parsed.success) {
    throw unexpectedResponse(
      call,
      answer.status,
      `unexpected response shape (${describeIssues(parsed.error)})`,
      {
        uncertain,
      },
    );
  }
  return parsed.data;
}
