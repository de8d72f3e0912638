/**
 * The small grammars every value of an HAProxy state document passes before it can reach
 * `haproxy.cfg`. Each one is chosen so that a value can never leave its line or its
 * argument: no control characters (so no newline), no comment start, no quote that the
 * renderer does not escape itself, no directive keyword where a value is expected.
 */
import { isIP } from "node:net";
import { z } from "zod";

/** Characters an argument may never contain: C0 controls (newline, CR, NUL, tab…) and DEL. */
/** True when `v` has a C0 control character (newline, CR, NUL, tab…) or DEL. */
export function hasControlChar(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function explainChar(v: string, re: RegExp): string | undefined {
  const i = [...v].findIndex((c) => !re.test(c));
  if (i < 0) return undefined;
  const c = [...v][i] ?? "";
  const shown = /[\x21-\x7e]/.test(c)
    ? `'${c}'`
    : `U+${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`;
  return `${shown} at position ${i}`;
}

/**
 * An HAProxy identifier (proxy, server, ACL, map, resolvers, userlist names): letters,
 * digits, `_`, `.`, `:`, `-`; 1–100 characters. Upper case is allowed because existing
 * configurations (import) use it.
 */
export const IDENT_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$/;
export function identSchema(what: string) {
  return z
    .string()
    .refine((v) => IDENT_RE.test(v), {
      error: (iss) => {
        const v = iss.input as string;
        if (v.length === 0) return `${what} must not be empty`;
        if (v.length > 100) return `${what} is longer than 100 characters`;
        const bad = explainChar(v, /[A-Za-z0-9_.:-]/) ?? "its first character";
        return `${what} has ${bad}; only A-Z, a-z, 0-9, '_', '.', ':' and '-' are allowed (not starting with '.', ':' or '-')`;
      },
    })
    .describe(`${what}: 1–100 characters of A-Z, a-z, 0-9, '_', '.', ':', '-'`);
}

/**
 * A free-form argument (header value, redirect target, ACL pattern, log-format string):
 * any text without control characters, at most 4 KiB. The renderer quotes it as needed,
 * so quotes, spaces, `#` and `$` are literal and cannot start a comment, a new word or an
 * environment expansion.
 */
export function argSchema(what = "argument") {
  return z
    .string()
    .min(1, `${what} must not be empty`)
    .max(4096, `${what} is longer than 4096 characters`)
    .refine((v) => !hasControlChar(v), {
      error: (iss) =>
        `${what} contains a control character (${explainChar(iss.input as string, /[ -~\u0080-\uffff]/)}); newlines and tabs are not allowed`,
    })
    .describe(`${what}: text without control characters (quoted by the renderer)`);
}
export const Arg = argSchema();

/** A bare HAProxy word: no whitespace, quote, backslash, `#` or `$`. Rendered as is. */
export const WORD_RE = /^[A-Za-z0-9_.:/%+=,@?&*[\]()!<>~^{}|;-]+$/;
export function wordSchema(what: string, max = 256) {
  return z
    .string()
    .max(max, `${what} is longer than ${max} characters`)
    .refine((v) => WORD_RE.test(v), {
      error: (iss) => {
        const v = iss.input as string;
        if (v.length === 0) return `${what} must not be empty`;
        return `${what} has ${explainChar(v, /[A-Za-z0-9_.:/%+=,@?&*[\]()!<>~^{}|;-]/)}; whitespace, quotes, '\\', '#' and '$' are not allowed here`;
      },
    })
    .describe(`${what}: one word without whitespace, quotes, '\\', '#' or '$'`);
}

/**
 * A sample-fetch expression with converters (`hdr(host)`, `req.hdr(host),lower`, `src`,
 * `path_beg`). Arguments inside parentheses are words; file-reading converters must name
 * a document map (`map(@hosts)`), never a path.
 */
const FETCH_RE = /^[a-z0-9_.]+(\([^\s()'"\\#$]*\))?(,[a-z0-9_.]+(\([^\s()'"\\#$]*\))?)*$/;
export const FetchExpr = z
  .string()
  .max(512)
  .refine((v) => FETCH_RE.test(v), {
    message:
      "not a sample fetch expression: expected name(args)[,converter(args)…] with args free of spaces, quotes, '\\', '#', '$' and parentheses",
  })
  .describe("Sample fetch with optional converters, e.g. `req.hdr(host),lower`.");

/** An IPv4 address. */
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** An IPv6 address (loose: hex groups, `::`, optional embedded IPv4). */
const IPV6_RE = /^(?=.*:)[0-9A-Fa-f:.]{2,45}$/;
/** A DNS host name (RFC 1123 labels). */
const HOST_RE =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isIp(v: string): boolean {
  return IPV4_RE.test(v) || (IPV6_RE.test(v) && isIP(v) === 6);
}
export function isHost(v: string): boolean {
  return isIp(v) || HOST_RE.test(v);
}

/** A server address: an IP address or a DNS name. */
export const HostAddress = z
  .string()
  .max(253)
  .refine(isHost, "must be an IPv4/IPv6 address or a DNS host name")
  .describe("IPv4/IPv6 address or DNS host name.");

/** A bind address: an IP address, or `*` / empty for every address. */
export const BindAddress = z
  .string()
  .max(45)
  .refine((v) => v === "*" || v === "" || isIp(v), "must be an IP address or '*'")
  .describe("IP address to listen on; `*` or empty = every address.");

export const Port = z.number().int().min(1).max(65535).describe("TCP port, 1–65535.");

/** A duration: milliseconds as a number, or an HAProxy time string (`5s`, `100ms`, `1m`). */
export const Duration = z
  .union([
    z.number().int().min(0).max(2_147_483_647),
    z
      .string()
      .regex(/^\d{1,10}(us|ms|s|m|h|d)?$/, "expected a number with an optional unit (us, ms, s, m, h, d)"),
  ])
  .describe("Duration: milliseconds, or a string with unit (`5s`, `100ms`, `1m`, `2h`, `1d`).");

/** A size: bytes as a number, or a string with a k/m/g suffix. */
export const Size = z
  .union([
    z.number().int().min(0),
    z.string().regex(/^\d{1,12}[kmgKMG]?$/, "expected a number with optional k/m/g"),
  ])
  .describe("Size: a number, or a string with a k/m/g suffix.");

/** A reference to a certificate, CA bundle or CRL managed by the certificates service (a name, never a path). */
export const FileRef = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,62}$/,
    "must be a file name of a-z, 0-9, '.', '_', '-' (a reference, never a path)",
  )
  .describe("Name of a managed file (certificate, CA bundle or CRL) — a reference, never a path.");
