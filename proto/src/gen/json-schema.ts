/** zod → JSON Schema 2020-12 (the dialect OpenAPI 3.1 and AsyncAPI 3 use). */
import { z } from "zod";

export function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const s = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
    reused: "inline",
  }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

/** Named schemas (zod `.meta({id})`) collected while building one document. */
export type SchemaSink = Map<string, Record<string, unknown>>;

/**
 * A schema for a document whose named schemas live under `prefix` (`#/components/schemas/`):
 * zod emits them as `$defs` with `#/$defs/…` refs, which inside a larger document would
 * resolve against its root. They are moved into `sink` and the refs rewritten.
 */
export function placedSchema(
  schema: z.ZodType,
  io: "input" | "output",
  sink: SchemaSink,
  prefix = "#/components/schemas/",
): Record<string, unknown> {
  const { $defs, ...root } = jsonSchema(schema, io) as Record<string, unknown> & {
    $defs?: Record<string, unknown>;
  };
  const defs = Object.entries($defs ?? {});
  // A name already taken by a different schema (the input and output forms of one
  // schema differ when it has defaults or transforms) gets the direction appended.
  const rename = new Map<string, string>();
  for (const [name, def] of defs) {
    const existing = sink.get(name);
    const same =
      !existing || JSON.stringify(existing) === JSON.stringify(rewriteRefs(def, new Map(), prefix));
    rename.set(name, same ? name : `${name}_${io}`);
  }
  for (const [name, def] of defs) {
    const target = rename.get(name) ?? name;
    const placed = rewriteRefs(def, rename, prefix) as Record<string, unknown>;
    const clash = sink.get(target);
    if (clash && JSON.stringify(clash) !== JSON.stringify(placed)) {
      throw new Error(`schema id ${name}: two different ${io} schemas would be ${prefix}${target}`);
    }
    sink.set(target, placed);
  }
  return rewriteRefs(root, rename, prefix) as Record<string, unknown>;
}

function rewriteRefs(node: unknown, rename: Map<string, string>, prefix: string): unknown {
  if (Array.isArray(node)) return node.map((n) => rewriteRefs(n, rename, prefix));
  if (!node || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string" && v.startsWith("#/$defs/")) {
      const name = decodeURIComponent(v.slice("#/$defs/".length));
      out[k] = `${prefix}${rename.get(name) ?? name}`;
    } else out[k] = rewriteRefs(v, rename, prefix);
  }
  return out;
}
