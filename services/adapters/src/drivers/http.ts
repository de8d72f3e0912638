/**
 * A small JSON-over-HTTP(S) client for vendor APIs with the device's TLS settings (a
 * pinned CA, or an explicit insecure opt-out), a hard timeout, and the typed error
 * mapping every HTTP driver shares: refused/unreachable/TLS → `adapter_connection_error`,
 * 401/403 → `adapter_authentication_error`, 404 → `adapter_not_found`, 429 →
 * `adapter_rate_limit`, timeout → `adapter_timeout`, anything else → `adapter_error`.
 * Vendor bodies are logged (truncated), never put into the error sent to the client.
 */
import http from "node:http";
import https from "node:https";
import { type EpError, Errors } from "@edgeplane/proto";
import type { Conn } from "./types.ts";

export interface HttpRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path below the base URL, already built from validated parts. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  basic?: { user: string; pass: string };
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

const MAX_BODY = 16 * 1024 * 1024;
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ECONNABORTED",
]);

/** A socket-level failure as a typed error. */
export function connectionError(err: NodeJS.ErrnoException, c: Conn): EpError {
  const code = err.code ?? "";
  c.log.warn({ controller: c.controllerId, code, err: err.message }, "device connection failed");
  if (CONNECTION_CODES.has(code)) return Errors.AdapterConnection.create({ reason: code.toLowerCase() });
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(code))
    return Errors.AdapterConnection.withMessage("could not verify the device's TLS certificate", {
      reason: "tls_verification_failed",
    });
  return Errors.AdapterConnection.create({ reason: "connection_failed" });
}

export function httpRequest(c: Conn, req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.path, c.baseUrl.endsWith("/") ? c.baseUrl : `${c.baseUrl}/`);
  const isHttps = url.protocol === "https:";
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  const headers: Record<string, string> = { accept: "application/json", ...req.headers };
  if (payload) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(payload.length);
  }
  if (req.basic)
    headers.authorization = `Basic ${Buffer.from(`${req.basic.user}:${req.basic.pass}`).toString("base64")}`;
  const opts: https.RequestOptions = { method: req.method, headers };
  if (isHttps) {
    opts.rejectUnauthorized = c.tls.verify;
    if (c.tls.ca_pem) opts.ca = c.tls.ca_pem;
  }
  return new Promise<HttpResponse>((resolve, reject) => {
    let done = false;
    const finish = (err: EpError | undefined, res?: HttpResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res as HttpResponse);
    };
    const r = (isHttps ? https : http).request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (b: Buffer) => {
        size += b.length;
        if (size > MAX_BODY) {
          r.destroy();
          finish(Errors.AdapterError.withMessage("the device's answer is too large"));
        } else chunks.push(b);
      });
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        if (text && /json/i.test(String(res.headers["content-type"] ?? ""))) {
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
        }
        finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on("error", (err) => finish(connectionError(err, c)));
    });
    const timer = setTimeout(() => {
      c.log.warn(
        { controller: c.controllerId, path: url.pathname, timeout_ms: c.timeoutMs },
        "device timed out",
      );
      finish(Errors.AdapterTimeout.create({ timeout_ms: c.timeoutMs }));
      r.destroy();
    }, c.timeoutMs);
    r.on("error", (err: NodeJS.ErrnoException) => finish(connectionError(err, c)));
    if (payload) r.write(payload);
    r.end();
  });
}

/** Map a non-2xx answer to the typed error; returns the response when it is 2xx. */
export function expectOk(c: Conn, res: HttpResponse, what: string): HttpResponse {
  if (res.status >= 200 && res.status < 300) return res;
  const detail =
    typeof res.body === "string" ? res.body.slice(0, 300) : JSON.stringify(res.body).slice(0, 300);
  c.log.warn({ controller: c.controllerId, status: res.status, what, detail }, "device answered an error");
  if (res.status === 401 || res.status === 403)
    throw Errors.AdapterAuthentication.create({ vendor_status: res.status });
  if (res.status === 404) throw Errors.AdapterNotFound.create({ what });
  if (res.status === 429) {
    const ra = Number(res.headers["retry-after"]);
    throw Errors.AdapterRateLimit.create(Number.isFinite(ra) ? { retry_after: ra } : undefined);
  }
  if (res.status === 408 || res.status === 504)
    throw Errors.AdapterTimeout.create({ vendor_status: res.status });
  throw Errors.AdapterError.create({ vendor_status: res.status });
}
