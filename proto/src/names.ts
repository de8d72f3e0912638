/**
 * Strict name grammars. Anything that reaches a NATS subject, `haproxy.cfg`, a WireGuard
 * config, a shell or a vendor API passes one of these first. Messages name the offending
 * character so a 422 is actionable.
 */
import { z } from "zod";

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function explainName(v: string, what: string): string {
  if (v.length === 0) return `${what} must not be empty`;
  if (v.length > 63) return `${what} is ${v.length} characters long; at most 63 are allowed`;
  if (!/^[a-z0-9]/.test(v)) return `${what} must start with a lower-case letter or digit`;
  const bad = [...v].findIndex((c) => !/[a-z0-9._-]/.test(c));
  if (bad >= 0) {
    const c = v[bad] ?? "";
    const shown = /[\x20-\x7e]/.test(c) ? `'${c}'` : `U+${c.codePointAt(0)?.toString(16).padStart(4, "0")}`;
    return `${what} has ${shown} at position ${bad}; only a-z, 0-9, '.', '_' and '-' are allowed`;
  }
  return `${what} is not valid`;
}

/** A resource name (cluster, backend, interface, node): lower-case, 1–63 chars, `[a-z0-9][a-z0-9._-]*`. */
export function nameSchema(what = "name") {
  return z
    .string()
    .superRefine((v, ctx) => {
      if (!NAME_RE.test(v)) ctx.addIssue({ code: "custom", message: explainName(v, what) });
    })
    .describe(`${what}: 1–63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit`);
}
export const Name = nameSchema();
export function isName(v: string): boolean {
  return NAME_RE.test(v);
}

/**
 * A NATS subject token derived from a Name: dots are subject separators, so they are
 * mapped to `~` (a character no Name may contain, allowed in subjects).
 */
export function subjectToken(name: string): string {
  if (!NAME_RE.test(name)) throw new Error(`not a valid name for a subject token: ${JSON.stringify(name)}`);
  return name.replaceAll(".", "~");
}

/** An incoming request id: accepted only if it matches this; otherwise a new one is generated. */
export const REQUEST_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
