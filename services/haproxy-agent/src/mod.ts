/** @edgeplane/haproxy-agent — HAProxy node agent. */
export { service, VERSION } from "./service.ts";
