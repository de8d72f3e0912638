import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSealer } from "./seal.ts";

const key = randomBytes(32).toString("base64");

describe("adapters seal", () => {
  it("round-trips and hides the plaintext", () => {
    const s = createSealer(key);
    const blob = s.seal({ password: "hunter2-very-secret" }, "ctl_a");
    expect(blob.toString("latin1")).not.toContain("hunter2");
    expect(s.open(blob, "ctl_a")).toEqual({ password: "hunter2-very-secret" });
  });

  it("refuses a blob moved to another row, a tampered blob, and another key", () => {
    const s = createSealer(key);
    const blob = s.seal({ a: 1 }, "ctl_a");
    expect(() => s.open(blob, "ctl_b")).toThrow();
    const bad = Buffer.from(blob);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    expect(() => s.open(bad, "ctl_a")).toThrow();
    expect(() => createSealer(randomBytes(32).toString("base64")).open(blob, "ctl_a")).toThrow();
  });

  it("uses a fresh nonce each time", () => {
    const s = createSealer(key);
    expect(s.seal("x", "r").equals(s.seal("x", "r"))).toBe(false);
  });
});
