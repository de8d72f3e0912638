import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pki } from "../../../test/e2e/haproxy-certs/mint.ts";
import { tmpDir } from "../../../test/harness/mod.ts";
import { validateByo, validateCa, validateCrl } from "./pki.ts";

let dir: Awaited<ReturnType<typeof tmpDir>>;
let pki: Pki;
let root: { cert: string; key: string };
let inter: { cert: string; key: string };
let leaf: { cert: string; key: string };

beforeAll(async () => {
  dir = await tmpDir("ep-pki-");
  pki = new Pki(dir.path);
  root = await pki.ca("root", "Test Root");
  inter = await pki.issue("inter", "root", { kind: "ca", cn: "Test Intermediate" });
  leaf = await pki.issue("leaf", "inter", { kind: "server", sans: ["DNS:localhost", "IP:127.0.0.1"] });
});
afterAll(async () => {
  await dir?.[Symbol.asyncDispose]();
});

describe("validateByo", () => {
  it("accepts leaf + intermediate with the leaf's key, listing SANs and the chain", () => {
    const v = validateByo(leaf.cert + inter.cert, leaf.key);
    expect(v.issues).toEqual([]);
    expect(v.parsed?.domains).toEqual(["localhost", "127.0.0.1"]);
    expect(v.parsed?.chain.map((c) => c.subject)).toEqual(["CN=leaf", "CN=Test Intermediate"]);
    expect(v.parsed?.key_type).toBe("ec");
    expect(v.parsed?.pem).toMatch(/END CERTIFICATE-----\n-----BEGIN PRIVATE KEY/);
  });
  it("names a key that does not match the leaf", () => {
    const v = validateByo(leaf.cert + inter.cert, inter.key);
    expect(v.parsed).toBeNull();
    expect(v.issues).toEqual([
      expect.objectContaining({
        field: "privkey_pem",
        type: "key_mismatch",
        message: expect.stringMatching(/does not match the leaf/),
      }),
    ]);
  });
  it("names a chain in the wrong order", () => {
    const v = validateByo(inter.cert + leaf.cert, leaf.key);
    expect(v.issues.map((i) => i.type)).toContain("chain_order");
    expect(v.issues.find((i) => i.type === "chain_order")?.message).toMatch(/not issued by certificate #2/);
  });
  it("names an expired leaf and garbage input", () => {
    const later = Date.now() + 40 * 86_400_000;
    expect(validateByo(leaf.cert, leaf.key, later).issues[0]?.message).toMatch(
      /the leaf certificate expired on/,
    );
    expect(validateByo("nope", "nope").issues.map((i) => i.field)).toEqual(["fullchain_pem", "privkey_pem"]);
  });
});

describe("validateCa / validateCrl", () => {
  it("fingerprints a CA bundle and warns about a non-CA", () => {
    const v = validateCa(root.cert + leaf.cert);
    expect(v.issues).toEqual([]);
    expect(v.certificates[0]?.fingerprint_sha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(v.warnings[0]).toMatch(/not a CA/);
  });
  it("parses a CRL: issuer, dates, revoked count", async () => {
    const empty = validateCrl(await pki.crl("root"));
    expect(empty.issues).toEqual([]);
    expect(empty.parsed).toMatchObject({ issuer: "CN=Test Root", revoked: 0 });
    await pki.issue("victim", "root", { kind: "client" });
    await pki.revoke("root", "victim");
    const one = validateCrl(await pki.crl("root"));
    expect(one.parsed?.revoked).toBe(1);
    expect(one.parsed?.next_update).not.toBeNull();
    expect(validateCrl(root.cert).issues[0]?.message).toMatch(/no PEM CRL/);
  });
});
