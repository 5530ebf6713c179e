// bindings/engine/rules.ts: the engine's token table and control/close limits, asked without a connection.
import { describe, expect, it } from "vitest";
import { CallError, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD } from "../../bindings/engine/abi.js";
import { closeError, controlError, isToken, tokenLength } from "../../bindings/engine/rules.js";

describe("rules asked of the engine", () => {
  it("tokenLength / isToken: the engine's tchar table over JavaScript strings", () => {
    expect(tokenLength("permessage-deflate; x")).toBe(18);
    expect(tokenLength("a; b=c", 3)).toBe(1);
    expect(isToken("chat.v2_!#$%&'*+-.^`|~")).toBe(true);
    for (const bad of ["", "a b", "a,b", "a\u0000", "é", "aĀ", "a\u0141"])
      expect(isToken(bad), bad).toBe(false);
    // A character whose low byte is a tchar ("Ł" is U+0141) is no token character.
    expect(tokenLength("xŁy")).toBe(1);
    // Longer than the engine's staging area: judged in pieces.
    expect(tokenLength("t".repeat(5000) + " ")).toBe(5000);
  });

  it("controlError: a control payload past the engine's limit", () => {
    expect(controlError(MAX_CONTROL_PAYLOAD)).toBe(0);
    expect(controlError(MAX_CONTROL_PAYLOAD + 1)).toBe(CallError.ControlTooLong);
    expect(controlError(2 ** 40)).toBe(CallError.ControlTooLong);
  });

  it("closeError: codes, a reason without a code, a reason past the limit in UTF-8 bytes", () => {
    expect(closeError(undefined, "")).toBe(0);
    expect(closeError(1000, "x".repeat(MAX_CLOSE_REASON))).toBe(0);
    expect(closeError(1000, "é".repeat(62))).toBe(CallError.CloseReasonTooLong);
    expect(closeError(1000, "x".repeat(100_000))).toBe(CallError.CloseReasonTooLong);
    expect(closeError(undefined, "why")).toBe(CallError.InvalidCloseCode);
    for (const code of [0, 999, 1005, 1000.5, -1000, 66536, NaN])
      expect(closeError(code, ""), String(code)).toBe(CallError.InvalidCloseCode);
    for (const code of [1000, 1014, 3000, 4999]) expect(closeError(code, "")).toBe(0);
  });
});
