/** zod issues → the `details` of a 422, with snake_case dotted field paths. */
import type { z } from "zod";
import { type EpError, Errors, type FieldIssue } from "./errors.ts";

export function issuesToFields(error: z.ZodError, root?: string): FieldIssue[] {
  return error.issues.map((i) => {
    const path = i.path.map(String).join(".");
    const field = [root, path].filter(Boolean).join(".") || root || "body";
    return { field, message: i.message, type: i.code };
  });
}

/** Parse or throw a `validation_failed` EpError naming the fields. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, root?: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw validationError(issuesToFields(r.error, root));
}

export function validationError(details: FieldIssue[]): EpError {
  return Errors.ValidationFailed.create(details);
}
