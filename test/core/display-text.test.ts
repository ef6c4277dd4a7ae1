import { describe, expect, it } from "vitest";
import { isSafeText, quoteIfShort, toDisplayText } from "../../src/core/display-text.ts";

describe("display text", () => {
  it.each([
    ["plain ASCII", "#crm-oncall", true],
    ["accented letters", "Zoë Müller <zoe@example.com>", true],
    ["CJK", "運用チーム", true],
    ["an escape sequence", "\u001b[31mred", false],
    ["a newline", "a\nb", false],
    ["a bidi override", "abc\u202edcb", false],
    ["a zero-width space", "a\u200bb", false],
    ["a lone surrogate", "a\ud800b", false],
    ["a line separator", "a\u2028b", false],
  ])("isSafeText judges %s", (_what, text, safe) => {
    expect(isSafeText(text)).toBe(safe);
  });

  it("quotes short plain values and nothing else", () => {
    expect(quoteIfShort("sfdc")).toBe('"sfdc"');
    expect(quoteIfShort("x".repeat(25))).toBe("");
    expect(quoteIfShort("<script>")).toBe("");
    expect(quoteIfShort("")).toBe("");
    expect(quoteIfShort(42)).toBe("");
  });

  it("replaces control characters and cuts long text with an ellipsis", () => {
    expect(toDisplayText("a\u001b[2Jb")).toBe("a\ufffd[2Jb");
    expect(toDisplayText("abcdef", 4)).toBe("abc…");
    expect(toDisplayText("abcd", 4)).toBe("abcd");
  });
});
