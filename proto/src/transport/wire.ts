/**
 * The reply wire format: every reply is JSON, either `{ok: true, data, meta?}` or
 * `{ok: false, error: {code, message, details?, retry?}}`. Errors are data, never
 * thrown strings.
 */
import type { WireError } from "../errors.ts";

/** Optional HTTP-facing metadata a handler may attach to a successful reply. */
export interface ReplyMeta {
  /** HTTP status to use instead of the route's default. */
  status?: number;
  /** Extra response headers (e.g. `etag`, `retry-after`). */
  headers?: Record<string, string>;
}

export type WireReply = { ok: true; data: unknown; meta?: ReplyMeta } | { ok: false; error: WireError };

const META = Symbol.for("edgeplane.reply-meta");

export interface WithMeta<T> {
  readonly [META]: true;
  readonly data: T;
  readonly meta: ReplyMeta;
}

/** Return this from a handler to set the HTTP status or headers of the reply. */
export function withMeta<T>(data: T, meta: ReplyMeta): WithMeta<T> {
  return { [META]: true, data, meta };
}
export function isWithMeta(v: unknown): v is WithMeta<unknown> {
  return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[META] === true;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const encodeJson = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));
export const decodeJson = (b: Uint8Array): unknown =>
  b.length === 0 ? undefined : JSON.parse(dec.decode(b));
