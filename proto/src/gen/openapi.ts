/**
 * The OpenAPI 3.1 document, generated from the route table. Every operation documents
 * its parameters, body, success reply and the error envelope of its failures.
 */
import type { z } from "zod";
import { type ErrorDef, Errors } from "../errors.ts";
import { routes as allRoutes } from "../routes/index.ts";
import type { RouteSpec } from "../routes/route.ts";
import { ErrorEnvelope } from "../schemas/common.ts";
import { placedSchema, type SchemaSink } from "./json-schema.ts";

export interface OpenApiOptions {
  version: string;
  routes?: readonly RouteSpec[];
}

const errorRef = { $ref: "#/components/schemas/ErrorEnvelope" };

function params(route: RouteSpec, sink: SchemaSink) {
  const out: Array<Record<string, unknown>> = [];
  const add = (schema: z.ZodObject | undefined, where: "path" | "query") => {
    if (!schema) return;
    const js = placedSchema(schema, "input", sink) as {
      properties?: Record<string, Record<string, unknown>>;
      required?: string[];
    };
    for (const [name, prop] of Object.entries(js.properties ?? {})) {
      const { description, ...rest } = prop;
      out.push({
        name,
        in: where,
        required: where === "path" ? true : (js.required ?? []).includes(name),
        ...(typeof description === "string" ? { description } : {}),
        schema: rest,
      });
    }
  };
  add(route.params, "path");
  add(route.query, "query");
  return out;
}

function errorResponses(route: RouteSpec) {
  const defs: ErrorDef[] = [...(route.errors ?? [])];
  if (route.auth === "principal") defs.push(Errors.Unauthenticated);
  if (route.permission) defs.push(Errors.Forbidden);
  if (route.body || route.query || route.params) defs.push(Errors.ValidationFailed);
  if (route.subject) defs.push(Errors.ServiceUnavailable, Errors.Timeout);
  defs.push(Errors.Internal);
  const byStatus = new Map<number, string[]>();
  for (const d of defs) byStatus.set(d.status, [...new Set([...(byStatus.get(d.status) ?? []), d.code])]);
  const out: Record<string, unknown> = {};
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: `Error: ${codes.map((c) => `\`${c}\``).join(", ")}`,
      content: { "application/json": { schema: errorRef } },
    };
  }
  if (!byStatus.has(400) && !byStatus.has(404) && !byStatus.has(422)) {
    out["404"] = {
      description: "Error: `route_not_found`",
      content: { "application/json": { schema: errorRef } },
    };
  }
  return out;
}

function successContent(route: RouteSpec, sink: SchemaSink) {
  switch (route.replyType) {
    case "text":
      return { "text/plain": { schema: { type: "string" } } };
    case "yaml":
      return { "application/yaml": { schema: { type: "string" } } };
    case "html":
      return { "text/html": { schema: { type: "string" } } };
    default:
      return { "application/json": { schema: placedSchema(route.reply, "output", sink) } };
  }
}

function operation(route: RouteSpec, alias: string | undefined, sink: SchemaSink) {
  const op: Record<string, unknown> = {
    operationId: alias ? `${route.id}.compat${alias}` : route.id,
    summary: alias ? `${route.summary} (compatibility alias)` : route.summary,
    description: [
      route.description,
      alias ? `Alias of \`${route.method} ${route.path}\`.` : undefined,
      route.permission ? `Requires permission \`${route.permission}\`.` : undefined,
    ]
      .filter(Boolean)
      .join("\n\n"),
    tags: [...route.tags],
    security: route.auth === "public" ? [] : [{ apiKey: [] }, { bearer: [] }],
    parameters: params(route, sink),
    responses: {
      [String(route.status ?? 200)]: { description: "Success", content: successContent(route, sink) },
      ...errorResponses(route),
    },
  };
  if (route.body) {
    op.requestBody = {
      required: true,
      content:
        route.bodyType === "text"
          ? { "text/plain": { schema: { type: "string" } } }
          : { "application/json": { schema: placedSchema(route.body, "input", sink) } },
    };
  }
  return op;
}

export function buildOpenApi(opts: OpenApiOptions): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  const sink: SchemaSink = new Map();
  placedSchema(ErrorEnvelope, "output", sink);
  for (const route of opts.routes ?? allRoutes) {
    for (const t of route.tags) tags.add(t);
    const entries: Array<[string, string | undefined]> = [
      [route.path, undefined],
      ...(route.aliases ?? []).map((a, i): [string, string] => [a, String(i + 1)]),
    ];
    for (const [path, alias] of entries) {
      paths[path] ??= {};
      (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = operation(route, alias, sink);
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "edgeplane API",
      version: opts.version,
      summary: "One control plane for HAProxy load balancers, WireGuard gateways and vendor routers.",
      description:
        'Every route is authenticated by API key (`Authorization: Bearer ep_…` or `X-API-Key`) unless marked public. Errors use one envelope: `{"error": {code, message, request_id, details}}`. Bodies and query parameters are snake_case.',
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    servers: [{ url: "/", description: "This gateway" }],
    tags: [...tags].sort().map((name) => ({ name, description: `${name} operations` })),
    security: [{ apiKey: [] }, { bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: "apiKey",
          in: "header",
          name: "X-API-Key",
          description: "An edgeplane API key (`ep_…`).",
        },
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "An API key (or, later, an access JWT) as a bearer token.",
        },
      },
      schemas: Object.fromEntries([...sink].sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}
