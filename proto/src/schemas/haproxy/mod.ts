/** HAProxy clusters: the state document, its API schemas and the names of its stores. */
export * from "./api.ts";
export * from "./certs.ts";
export * from "./logs.ts";
export * from "./primitives.ts";
export * from "./runtime.ts";
export * from "./state.ts";
export * from "./stores.ts";
