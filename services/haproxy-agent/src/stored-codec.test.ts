import { StateDocument } from "@edgeplane/proto";
import { describe, expect, it } from "vitest";
import {
  COMPRESS_FROM_BYTES,
  decodeStoredJson,
  encodeStoredJson,
  isGzip,
  stateSchemaFingerprint,
  storedDocument,
} from "./stored-codec.ts";

const manyBackends = (n: number) =>
  StateDocument.parse({
    backends: Array.from({ length: n }, (_, i) => ({
      name: `b${i}`,
      servers: [{ name: "s1", address: "127.0.0.1", port: 10_000 + i }],
    })),
  });

describe("stored state codec", () => {
  it("keeps small values as plain JSON and compresses large ones; both read back", async () => {
    const small = JSON.stringify({ state: StateDocument.parse({}), committed_at: "x" });
    expect(small.length).toBeLessThan(COMPRESS_FROM_BYTES);
    const a = await encodeStoredJson(small);
    expect(isGzip(a)).toBe(false);
    expect(await decodeStoredJson(a)).toEqual(JSON.parse(small));

    const large = JSON.stringify({ state: manyBackends(500) });
    const b = await encodeStoredJson(large);
    expect(isGzip(b)).toBe(true);
    expect(b.length).toBeLessThan(large.length / 5);
    expect(await decodeStoredJson(b)).toEqual(JSON.parse(large));
  });

  it("takes a document as stored only when this schema wrote it", () => {
    const fp = stateSchemaFingerprint();
    expect(fp).toMatch(/^[0-9a-f]{32}$/);
    expect(stateSchemaFingerprint()).toBe(fp);
    // A value written by another schema (here: missing defaults) is parsed again and filled.
    const partial = { backends: [{ name: "b", servers: [] }] };
    const reparsed = storedDocument(partial, "another-schema");
    expect(reparsed.frontends).toEqual([]);
    expect(reparsed.backends[0]?.name).toBe("b");
    expect(storedDocument(partial, null).frontends).toEqual([]);
    // Same fingerprint: the very object, no parse.
    const doc = manyBackends(2);
    expect(storedDocument(doc, fp)).toBe(doc);
  });

  it("refuses a value another schema wrote that this one rejects", () => {
    expect(() => storedDocument({ backends: [{ name: "bad name\n" }] }, "another-schema")).toThrow();
  });
});
