/**
 * The error catalogue: every error that crosses the wire has a stable string code and
 * an HTTP status here. Services throw `Errors.X.create(details)`; the transport carries
 * `{code, message, details}` as data; the gateway maps the code back to the status.
 * Never match on message text: match on `code`.
 */

/** One field-level problem, as reported in a 422's `details`. */
export interface FieldIssue {
  /** Dotted path of the offending field (`backends.0.servers.1.port`), or `body`. */
  field: string;
  /** Human-readable explanation. */
  message: string;
  /** Machine-readable kind (zod issue code, e.g. `too_big`, `invalid_format`). */
  type: string;
}

/** The serialised form of an error, as it travels over NATS and inside HTTP envelopes. */
export interface WireError {
  code: string;
  message: string;
  details?: unknown;
  /** True when the same request may succeed if retried unchanged. */
  retry?: boolean;
}

/** An error with a catalogued code. Thrown by handlers, raised by `call()` on the caller side. */
export class EpError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  readonly retry: boolean;
  constructor(code: string, status: number, message: string, details?: unknown, retry = false) {
    super(message);
    this.name = "EpError";
    this.code = code;
    this.status = status;
    this.details = details;
    this.retry = retry;
  }
  toWire(): WireError {
    const w: WireError = { code: this.code, message: this.message };
    if (this.details !== undefined) w.details = this.details;
    if (this.retry) w.retry = true;
    return w;
  }
}

export interface ErrorDef {
  readonly code: string;
  readonly status: number;
  readonly template: string;
  readonly retry: boolean;
  /** Build the error; `%s`-style placeholders `{name}` in the template are filled from `params`. */
  create(details?: unknown, params?: Record<string, string | number>): EpError;
  /** Same as `create`, with an explicit message. */
  withMessage(message: string, details?: unknown): EpError;
  is(err: unknown): err is EpError;
}

function def(code: string, status: number, template: string, retry = false): ErrorDef {
  const fill = (params?: Record<string, string | number>) =>
    template.replace(/\{(\w+)\}/g, (_m, k: string) => (params && k in params ? String(params[k]) : `{${k}}`));
  return Object.freeze({
    code,
    status,
    template,
    retry,
    create: (details?: unknown, params?: Record<string, string | number>) =>
      new EpError(code, status, fill(params), details, retry),
    withMessage: (message: string, details?: unknown) => new EpError(code, status, message, details, retry),
    is: (err: unknown): err is EpError => err instanceof EpError && err.code === code,
  });
}

export const Errors = {
  // --- request shape ---
  BadRequest: def("bad_request", 400, "the request is malformed"),
  ValidationFailed: def("validation_failed", 422, "validation error"),
  PayloadTooLarge: def("payload_too_large", 413, "request body exceeds {limit}-byte limit"),
  UnsupportedMediaType: def("unsupported_media_type", 415, "unsupported content type"),
  NotFound: def("not_found", 404, "not found"),
  RouteNotFound: def("route_not_found", 404, "no route for {method} {path}"),
  MethodNotAllowed: def("method_not_allowed", 405, "method not allowed"),
  UpgradeRequired: def("upgrade_required", 426, "this endpoint is a WebSocket: send Upgrade: websocket"),
  Conflict: def("conflict", 409, "conflict"),
  StaleRevision: def("stale_revision", 409, "state changed since revision {revision}"),
  PreconditionRequired: def("precondition_required", 428, "this request needs a revision (If-Match)"),
  // --- identity ---
  Unauthenticated: def("unauthenticated", 401, "authentication required"),
  InvalidCredentials: def("invalid_credentials", 401, "invalid credentials"),
  Forbidden: def("forbidden", 403, "permission denied: requires '{permission}'"),
  RateLimited: def("rate_limited", 429, "rate limit exceeded", true),
  SetupCompleted: def("setup_completed", 409, "setup has already been completed"),
  InvalidSetupToken: def("invalid_setup_token", 403, "the setup token is not valid"),
  CsrfFailed: def("csrf_failed", 403, "missing or invalid X-CSRF-Token"),
  AccountLocked: def("account_locked", 429, "too many failed logins; try again later", true),
  LastOwner: def("last_owner", 409, "the last owner cannot be removed or demoted"),
  TooManyKeys: def("too_many_keys", 409, "at most {max} active API keys per user"),
  // --- mesh ---
  ServiceUnavailable: def("service_unavailable", 503, "no instance of {service} is answering", true),
  BusUnavailable: def("bus_unavailable", 503, "the message bus is briefly unavailable; retry", true),
  Timeout: def("upstream_timeout", 504, "{service} did not answer in time", true),
  Internal: def("internal_error", 500, "internal error"),
  // --- adapters (typed vendor failures) ---
  AdapterConnection: def("adapter_connection_error", 502, "could not reach the device", true),
  AdapterAuthentication: def("adapter_authentication_error", 502, "the device refused the credentials"),
  AdapterNotFound: def("adapter_not_found", 404, "the device has no such object"),
  AdapterTimeout: def("adapter_timeout", 504, "the device did not answer in time", true),
  AdapterRateLimit: def("adapter_rate_limit", 429, "the device is rate limiting", true),
  AdapterError: def("adapter_error", 502, "the device reported an error"),
  AdapterApplyGated: def("adapter_apply_gated", 403, "apply refused: a gate is closed ({gates})"),
  // --- wireguard ---
  WgAddressExhausted: def("wg_address_exhausted", 409, "no free address left in {subnet}"),
  WgAddressInUse: def("wg_address_in_use", 409, "address {address} is already allocated"),
  WgSealingUnavailable: def(
    "wg_sealing_unavailable",
    503,
    "no sealing key is configured on this wg-agent (EP_SEALING_KEY): private keys cannot be stored or opened",
  ),
  // --- haproxy clusters ---
  HaproxyConfigInvalid: def("haproxy_config_invalid", 502, "haproxy -c rejected the configuration"),
  HaproxyUnavailable: def("haproxy_unavailable", 503, "haproxy is not available on {node}", true),
  HaproxyRevisionNotFound: def("haproxy_revision_not_found", 404, "revision {revision} is not kept"),
} as const;
export type ErrorName = keyof typeof Errors;

const byCode = new Map<string, ErrorDef>(Object.values(Errors).map((d) => [d.code, d]));

/** The HTTP status for a code; unknown codes are treated as internal errors. */
export function statusOf(code: string): number {
  return byCode.get(code)?.status ?? 500;
}

/** Rebuild an EpError from its wire form (caller side of a NATS request). */
export function fromWire(w: WireError): EpError {
  return new EpError(w.code, statusOf(w.code), w.message, w.details, w.retry ?? false);
}

/** Normalise anything thrown into an EpError; non-catalogued errors become `internal_error`. */
export function toEpError(err: unknown): EpError {
  if (err instanceof EpError) return err;
  return Errors.Internal.create();
}
