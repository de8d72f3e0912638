/** Generators of the API documents (OpenAPI 3.1, AsyncAPI 3) from the route table. */
export { buildAsyncApi } from "./asyncapi.ts";
export { buildOpenApi } from "./openapi.ts";
