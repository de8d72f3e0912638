/** @edgeplane/stats — Stats aggregator. */
export { service, VERSION } from "./service.ts";
