/** `npm run gen:docs`: write docs/openapi.json and docs/asyncapi.json from proto. */
import { mkdir, writeFile } from "node:fs/promises";
import { buildAsyncApi, buildOpenApi } from "./mod.ts";

const version = "0.1.0";
await mkdir("docs/api", { recursive: true });
await writeFile("docs/api/openapi.json", `${JSON.stringify(buildOpenApi({ version }), null, 2)}\n`);
await writeFile("docs/api/asyncapi.json", `${JSON.stringify(buildAsyncApi({ version }), null, 2)}\n`);
console.log("wrote docs/api/openapi.json, docs/api/asyncapi.json");
