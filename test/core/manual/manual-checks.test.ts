import { describe, expect, it } from "vitest";
import { checkManual } from "../../../src/core/manual/manual-checks.ts";
import { factsOf } from "../providers/check-kit.ts";

describe("checkManual", () => {
  it("finds nothing wrong with a contact and a deadline", () => {
    expect(checkManual(factsOf({ provider: "manual", rotation_contact: "#payments-team" }))).toEqual([]);
  });

  it("warns that reminders have nobody to name without rotation_contact", () => {
    expect(checkManual(factsOf({ provider: "manual" }))).toEqual([
      {
        mark: "warn",
        text: "no rotation_contact: reminders have nobody to name; set it to the owner (a team or a person)",
      },
    ]);
  });
});
