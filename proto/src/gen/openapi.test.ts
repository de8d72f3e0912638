/**
 * The generated OpenAPI 3.1 document: lint-clean under Redocly's `recommended` ruleset
 * (its CLI bundles openapi-core, so it runs as a child process on a temp file), and
 * structurally faithful to the route table.
 */
import { type RouteSpec, routes } from "@edgeplane/proto";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { collectRefs, resolvePointer } from "./local-refs.ts";
import { buildOpenApi } from "./openapi.ts";
import { redoclyErrors, redoclyLint } from "./redocly-lint.ts";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

type Doc = {
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
  security: Array<Record<string, string[]>>;
  tags: Array<{ name: string }>;
};

const doc = buildOpenApi({ version: "0.1.0", routes }) as unknown as Doc;
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([m]) => METHODS.includes(m))
    .map(([method, op]) => ({ path, method, op })),
);

describe("openapi - redocly recommended ruleset", () => {
  test("openapi - the generated document lints with zero errors", async () => {
    expect(await redoclyErrors(doc, "openapi.json")).toEqual([]);
  });

  test("openapi - the linter does report a broken document (the check is live)", async () => {
    const broken = structuredClone(doc) as unknown as Record<string, unknown>;
    delete (broken.info as Record<string, unknown>).version;
    const problems = await redoclyLint(broken, "openapi.json");
    expect(problems.some((p) => p.severity === "error")).toBe(true);
  });
});

describe("openapi - structure follows the route table", () => {
  test("openapi - document header is OpenAPI 3.1 with the given version", () => {
    const d = doc as unknown as {
      openapi: string;
      info: { title: string; version: string; license?: unknown };
    };
    expect(d.openapi).toBe("3.1.0");
    expect(d.info.title).toBe("edgeplane API");
    expect(d.info.version).toBe("0.1.0");
    expect(d.info.license).toBeDefined();
  });

  test("openapi - every route appears with its method at its path and at every alias", () => {
    for (const route of routes) {
      const method = route.method.toLowerCase();
      const canonical = doc.paths[route.path]?.[method];
      expect(canonical, `${route.method} ${route.path}`).toBeDefined();
      expect(canonical?.operationId).toBe(route.id);
      for (const alias of route.aliases ?? []) {
        const op = doc.paths[alias]?.[method];
        expect(op, `${route.method} ${alias} (alias of ${route.path})`).toBeDefined();
        expect(String(op?.operationId)).toMatch(new RegExp(`^${route.id.replaceAll(".", "\\.")}\\.`));
      }
    }
    const expected = routes.reduce((n, r) => n + 1 + (r.aliases?.length ?? 0), 0);
    expect(operations).toHaveLength(expected);
  });

  test("openapi - operationIds are unique", () => {
    const ids = operations.map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("openapi - public routes have security [] and the others name defined schemes", () => {
    const byPath = (r: RouteSpec) =>
      [r.path, ...(r.aliases ?? [])].map((p) => doc.paths[p]?.[r.method.toLowerCase()]);
    for (const route of routes) {
      for (const op of byPath(route)) {
        if (route.auth === "public") expect(op?.security, route.id).toEqual([]);
        else {
          const security = op?.security as Array<Record<string, string[]>>;
          expect(security.length, route.id).toBeGreaterThan(0);
          for (const req of security) {
            for (const scheme of Object.keys(req))
              expect(doc.components.securitySchemes).toHaveProperty(scheme);
          }
        }
      }
    }
    expect(doc.security.length).toBeGreaterThan(0);
  });

  test("openapi - every path template parameter is declared as a required path parameter", () => {
    for (const { path, method, op } of operations) {
      const declared = (
        (op.parameters ?? []) as Array<{ name: string; in: string; required?: boolean }>
      ).filter((p) => p.in === "path");
      const inTemplate = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(declared.map((p) => p.name).sort(), `${method} ${path}`).toEqual(inTemplate.sort());
      expect(declared.every((p) => p.required === true)).toBe(true);
    }
  });

  test("openapi - every operation has a success and a 4xx response, and tags that are declared", () => {
    const tags = new Set(doc.tags.map((t) => t.name));
    for (const { path, method, op } of operations) {
      const codes = Object.keys(op.responses as object);
      expect(
        // 101: the WebSocket upgrade (`events.ws`).
        codes.some((c) => /^(2\d\d|101)$/.test(c)),
        `${method} ${path}`,
      ).toBe(true);
      expect(
        codes.some((c) => /^4\d\d$/.test(c)),
        `${method} ${path}`,
      ).toBe(true);
      for (const t of op.tags as string[]) expect(tags.has(t), t).toBe(true);
    }
  });

  test("openapi - every $ref resolves inside the document", () => {
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) expect(resolvePointer(doc, ref), ref).toBeDefined();
  });

  test("openapi - named zod schemas (.meta id) become components, nested refs rewritten", () => {
    const Inner = z.object({ n: z.number().describe("A number.") }).meta({ id: "OpenApiTestInner" });
    const route: RouteSpec = {
      id: "test.named",
      method: "POST",
      path: "/api/v1/test/{name}",
      summary: "Named schema test",
      tags: ["test"],
      auth: "public",
      params: z.object({ name: z.string().describe("A name.") }),
      body: z.object({ inner: Inner }),
      reply: z.object({ items: z.array(Inner) }),
    };
    const d = buildOpenApi({ version: "0", routes: [route] }) as unknown as Doc;
    expect(d.components.schemas).toHaveProperty("OpenApiTestInner");
    expect(d.components.schemas).toHaveProperty("ErrorEnvelope");
    const refs = collectRefs(d);
    expect(refs).toContain("#/components/schemas/OpenApiTestInner");
    expect(refs.filter((r) => r.includes("$defs"))).toEqual([]);
    for (const ref of refs) expect(resolvePointer(d, ref), ref).toBeDefined();
  });
});
