/**
 * Differences between two state documents: a structural diff (named list items are
 * matched by name, so reordering-free edits read as `backends[app].servers[web1].weight`)
 * and a unified diff of the rendered configurations.
 */
import { createTwoFilesPatch } from "diff";

export interface Change {
  op: "add" | "remove" | "change";
  path: string;
  from?: unknown;
  to?: unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const named = (a: unknown[]) =>
  a.every((x) => isObj(x) && typeof x.name === "string") &&
  new Set(a.map((x) => (x as { name: string }).name)).size === a.length;

export function structuralDiff(a: unknown, b: unknown, path = "", out: Change[] = []): Change[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return out;
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (!(k in b) || b[k] === undefined) {
        if (a[k] !== undefined) out.push({ op: "remove", path: at(k), from: a[k] });
      } else if (!(k in a) || a[k] === undefined) out.push({ op: "add", path: at(k), to: b[k] });
      else structuralDiff(a[k], b[k], at(k), out);
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b) && named(a) && named(b)) {
    const ma = new Map(a.map((x) => [(x as { name: string }).name, x]));
    const mb = new Map(b.map((x) => [(x as { name: string }).name, x]));
    for (const [n, x] of ma) if (!mb.has(n)) out.push({ op: "remove", path: `${path}[${n}]`, from: x });
    for (const [n, x] of mb) {
      if (!ma.has(n)) out.push({ op: "add", path: `${path}[${n}]`, to: x });
      else structuralDiff(ma.get(n), x, `${path}[${n}]`, out);
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => {
      structuralDiff(x, b[i], `${path}[${i}]`, out);
    });
    return out;
  }
  out.push({ op: "change", path: path || "(document)", from: a, to: b });
  return out;
}

export function unifiedDiff(aName: string, a: string, bName: string, b: string): string {
  return createTwoFilesPatch(aName, bName, a, b, undefined, undefined, { context: 3 });
}
