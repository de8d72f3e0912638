/** zod → JSON Schema 2020-12 (the dialect OpenAPI 3.1 and AsyncAPI 3 use). */
import { z } from "zod";

export function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any", reused: "inline" }) as Record<
    string,
    unknown
  >;
  delete s.$schema;
  return s;
}
