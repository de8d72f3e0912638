/** @edgeplane/adapters — Vendor device adapters. */
export { service, VERSION } from "./service.ts";
