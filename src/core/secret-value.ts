import { inspect } from "node:util";

const REDACTED = "[redacted]";

/**
 * A secret held in memory. Printing, logging, JSON-serialising or inspecting it yields "[redacted]";
 * only reveal() returns the value, so every place that uses the secret is greppable.
 */
export class SecretValue {
  readonly #value: string;

  private constructor(value: string) {
    this.#value = value;
  }

  static of(value: string): SecretValue {
    return new SecretValue(value);
  }

  reveal(): string {
    return this.#value;
  }

  equals(other: SecretValue): boolean {
    return this.#value === other.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
