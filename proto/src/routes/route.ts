/**
 * The shape of an HTTP route: the gateway registers one handler per entry, generically.
 * Adding a route = adding an entry here plus `serveRoute()` in the owning service.
 */
import type { z } from "zod";
import type { ErrorDef } from "../errors.ts";
import type { Perm } from "../perms.ts";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What a route's resource scope is checked against (param name → scope list). */
export interface RouteScope {
  kind: "haproxy_clusters" | "wg_interfaces" | "adapter_controllers";
  /** The path parameter holding the resource name. */
  param: string;
  /** A fixed resource name, for routes whose path has no such parameter (compatibility aliases). */
  fixed?: string;
}

export interface RouteSpec {
  /** Stable operation id (`setup.complete`); also the OpenAPI operationId. */
  id: string;
  method: HttpMethod;
  /** Canonical path with `{param}` placeholders. */
  path: string;
  /** Compatibility aliases: other paths served by the same handler. */
  aliases?: readonly string[];
  summary: string;
  description?: string;
  tags: readonly string[];
  /** `public` needs no credential; `principal` needs one (and `permission` if set). */
  auth: "public" | "principal";
  permission?: Perm;
  scope?: RouteScope;
  /**
   * NATS subject template (`ep.v1.haproxy.{cluster}.state.get`): `{param}` tokens are
   * filled from validated path parameters. Absent for routes the gateway answers itself.
   */
  subject?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Request body media type; JSON unless stated. */
  bodyType?: "json" | "text";
  /**
   * Who checks the body against `body`: the gateway (default; the service parses it again)
   * or only the `service`, for bulk documents whose schema parse is a cost worth paying once
   * (a 10k-backend state document: ~70 ms per parse). The 422 is the same either way: the
   * service names the fields as the gateway would.
   */
  bodyCheck?: "gateway" | "service";
  /** HTTP request headers forwarded to the service (lower-case names). */
  headers?: readonly string[];
  reply: z.ZodType;
  /**
   * Reply media type: JSON unless stated. `text`: the service replies a string. `binary`:
   * the service replies a `BinaryReply` (`{content_type, body_base64, filename?}`) and the
   * gateway sends the decoded bytes with that content type. `stream`: the reply is a
   * `StreamOpened` and the body follows as ordered chunks (`transport/stream.ts`).
   */
  replyType?: "json" | "text" | "yaml" | "html" | "binary" | "stream";
  /** Success status (200 unless stated). */
  status?: number;
  /** Errors the route may answer with, for the docs. */
  errors?: readonly ErrorDef[];
  /** NATS request timeout in ms (default from gateway config). */
  timeoutMs?: number;
  /** A mutation: audited, never retried. Defaults to `method !== "GET"`. */
  mutation?: boolean;
  /** Rate-limit class: auth endpoints are limited per client IP. */
  rateClass?: "default" | "auth" | "none";
}

/** Identity function that keeps the literal type of a route for typed handlers. */
export function defineRoute<const R extends RouteSpec>(r: R): R {
  return Object.freeze(r);
}

type Infer<T> = T extends z.ZodType ? z.infer<T> : Record<string, never>;

/** What a service handler receives for a route. */
export interface RouteRequest<R extends RouteSpec> {
  params: Infer<R["params"]>;
  query: Infer<R["query"]>;
  body: R["body"] extends z.ZodType ? z.infer<R["body"]> : undefined;
  headers: Record<string, string>;
}
export type RouteReply<R extends RouteSpec> = z.input<R["reply"]>;

/** Fill a subject template from validated params (dots in names become `~`). */
export function fillSubject(
  template: string,
  params: Record<string, string>,
  token: (v: string) => string,
): string {
  return template.replace(/\{(\w+)\}/g, (_m, k: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`subject template ${template} needs param ${k}`);
    return token(v);
  });
}

/** The subscription pattern of a template: unfixed `{param}` tokens become `*`. */
export function subjectPattern(
  template: string,
  fixed: Record<string, string> = {},
  token = (v: string) => v,
): string {
  return template.replace(/\{(\w+)\}/g, (_m, k: string) => (k in fixed ? token(fixed[k] as string) : "*"));
}
