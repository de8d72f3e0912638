/**
 * The WireGuard domain's wire contract: field grammars, the model, and strict network
 * parsing (as the `wgNet` namespace, so its generic names never clash with other domains).
 */
export * from "./fields.ts";
export * from "./model.ts";
export * as wgNet from "./net.ts";
