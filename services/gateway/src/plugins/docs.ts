/** OpenAPI (JSON and YAML, generated from proto) and Swagger UI. */

import type { RouteSpec } from "@edgeplane/proto";
import { buildOpenApi } from "@edgeplane/proto/gen";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { stringify } from "yaml";

export async function docsPlugin(
  app: FastifyInstance,
  routes: readonly RouteSpec[],
  version: string,
): Promise<void> {
  const document = buildOpenApi({ version, routes });
  // No anchors/aliases: shared schema objects would otherwise become YAML aliases that
  // strict parsers refuse in bulk ("excessive alias count").
  const yaml = stringify(document, { aliasDuplicateObjects: false });
  app.get("/api/v1/openapi.json", async () => document);
  app.get("/api/v1/openapi.yaml", async (_req, reply) =>
    reply.type("application/yaml; charset=utf-8").send(yaml),
  );
  await app.register(async (scope) => {
    await scope.register(swagger, { mode: "static", specification: { document: document as never } });
    await scope.register(swaggerUi, {
      routePrefix: "/api/v1/docs",
      uiConfig: { deepLinking: true },
      staticCSP: false,
    });
  });
  // The short path some operators remember.
  app.get("/api/docs", async (_req, reply) => reply.redirect("/api/v1/docs/", 302));
}
