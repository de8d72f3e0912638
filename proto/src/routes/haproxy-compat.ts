/**
 * PatchPanel's paths are aliases on the cluster `default`: the same route, without the
 * `cluster` path parameter, its subject fixed to `default`, its resource scope fixed too
 * (a key scoped to other clusters must not reach `default` through `/api/...`).
 */
import type { z } from "zod";
import type { RouteSpec } from "./route.ts";

const CLUSTER_SUBJECT = "ep.v1.haproxy.{cluster}";
const DEFAULT_SUBJECT = "ep.v1.haproxy.default";
const DEFAULT_SCOPE = { kind: "haproxy_clusters", param: "cluster", fixed: "default" } as const;

/** The alias of `route` at `path` on the default cluster, with operation id `id`. */
export function defaultClusterAlias<R extends RouteSpec>(route: R, id: string, path: string): R {
  const params = route.params ? (route.params as z.ZodObject).omit({ cluster: true } as never) : undefined;
  return Object.freeze({
    ...route,
    id,
    path,
    aliases: undefined,
    params: params && Object.keys(params.shape).length > 0 ? params : undefined,
    scope: DEFAULT_SCOPE,
    subject: (route.subject as string).replace(CLUSTER_SUBJECT, DEFAULT_SUBJECT),
    summary: `${route.summary} (PatchPanel, default cluster)`,
    tags: ["patchpanel"],
  }) as R;
}
