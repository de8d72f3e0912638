import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadSecrets, SECRETS_FILE } from "./secrets.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ep-secrets-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const fileMode = () => statSync(join(dir, SECRETS_FILE)).mode & 0o777;

describe("secrets", () => {
  it("secrets - generated once, stable across loads, file is 0600", () => {
    const first = loadSecrets(dir);
    expect(fileMode()).toBe(0o600);
    const second = loadSecrets(dir);
    expect(second).toEqual(first);
    expect(Buffer.from(first.EP_KEY_PEPPER, "base64url")).toHaveLength(32);
    expect(first.EP_KEY_PEPPER).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(first.EP_SEALING_KEY, "base64")).toHaveLength(32);
    expect(first.EP_SEALING_KEY).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(first).not.toHaveProperty("EP_METRICS_TOKEN");
    expect(Object.isFrozen(first)).toBe(true);
  });

  it("secrets - each data dir gets its own random values", () => {
    const other = mkdtempSync(join(tmpdir(), "ep-secrets-"));
    try {
      expect(loadSecrets(other).EP_KEY_PEPPER).not.toBe(loadSecrets(dir).EP_KEY_PEPPER);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("secrets - keeps existing values and adds missing ones", () => {
    const pepper = Buffer.alloc(32, 7).toString("base64url");
    writeFileSync(join(dir, SECRETS_FILE), JSON.stringify({ EP_KEY_PEPPER: pepper }), { mode: 0o600 });
    const s = loadSecrets(dir);
    expect(s.EP_KEY_PEPPER).toBe(pepper);
    const onDisk = JSON.parse(readFileSync(join(dir, SECRETS_FILE), "utf8"));
    expect(onDisk).toEqual({ ...s });
  });

  it("secrets - refuses a corrupted file instead of regenerating", () => {
    writeFileSync(join(dir, SECRETS_FILE), "{not json", { mode: 0o600 });
    expect(() => loadSecrets(dir)).toThrow(/not valid JSON/);
    writeFileSync(join(dir, SECRETS_FILE), JSON.stringify({ EP_SEALING_KEY: "short" }), { mode: 0o600 });
    expect(() => loadSecrets(dir)).toThrow(/EP_SEALING_KEY: must be 32 bytes/);
    expect(readFileSync(join(dir, SECRETS_FILE), "utf8")).toContain("short"); // untouched
  });

  it("secrets - tightens a loosened file mode back to 0600", () => {
    const s = loadSecrets(dir);
    chmodSync(join(dir, SECRETS_FILE), 0o644);
    expect(loadSecrets(dir)).toEqual(s);
    expect(fileMode()).toBe(0o600);
  });
});
