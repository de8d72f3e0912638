/**
 * The bytes of a stored revision (KV value and snapshot payload) and how a reader gets the
 * document back.
 *
 * - Large values are gzip-compressed. A state document as the schema outputs it repeats
 *   every default (`"acls":[],"options":[]…` per backend): 10,000 backends are 2.7 MB of
 *   JSON and typically under 10% of that compressed. Every node receives the value, and the
 *   snapshot stream stores it again, so the bytes are paid for several times over; they
 *   also fit NATS's default 1 MB `max_payload` far longer. Readers tell the two apart by
 *   the gzip magic (JSON never starts with 0x1f), so values written before this existed
 *   still read. Compression runs on libuv's thread pool, off the event loop.
 * - The document was schema-parsed by the agent that committed it. A reader whose schema is
 *   the one that wrote it (same `schema_fingerprint`) takes the JSON as it is; any other
 *   (an older revision, an agent of another version) parses it again, which fills defaults
 *   added since. A 10k-backend parse costs ~70 ms on every node on the apply path.
 */
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { StateDocument } from "@edgeplane/proto";
import { z } from "zod";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Below this, compression saves too little to be worth a thread-pool round trip. */
export const COMPRESS_FROM_BYTES = 16 * 1024;

export async function encodeStoredJson(json: string): Promise<Uint8Array> {
  const raw = enc.encode(json);
  if (raw.length < COMPRESS_FROM_BYTES) return raw;
  // Level 1: the repetition compresses well even at the fastest level (2.7 MB → 65 kB in 3 ms).
  return new Uint8Array(await gzipAsync(raw, { level: 1 }));
}

export function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** The JSON bytes of stored bytes, compressed or not. */
export async function storedJsonBytes(b: Uint8Array): Promise<Buffer> {
  return isGzip(b) ? gunzipAsync(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** JSON-parsed value of stored bytes, compressed or not (not schema-parsed). */
export async function decodeStoredJson<T>(b: Uint8Array): Promise<T> {
  return JSON.parse(dec.decode(await storedJsonBytes(b))) as T;
}

let fingerprint: string | undefined;

/**
 * Identifies the schema that wrote a document: the hash of `StateDocument`'s output JSON
 * Schema (every field, type, default and constraint it can express). Computed once, on
 * first use (~10 ms).
 */
export function stateSchemaFingerprint(): string {
  if (fingerprint === undefined) {
    const shape = JSON.stringify(z.toJSONSchema(StateDocument, { io: "output", unrepresentable: "any" }));
    fingerprint = createHash("sha256").update(shape).digest("hex").slice(0, 32);
  }
  return fingerprint;
}

/** The document of a stored value: as stored when this schema wrote it, else parsed again. */
export function storedDocument(state: unknown, writtenWith: string | null | undefined): StateDocument {
  return writtenWith === stateSchemaFingerprint() ? (state as StateDocument) : StateDocument.parse(state);
}
