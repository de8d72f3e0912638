/**
 * NATS header names the mesh uses. Services trust `ep-principal` only because in
 * production only authenticated gateways may publish on request subjects (NATS
 * per-service credentials); see docs/architecture.md.
 */
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import { Principal } from "../schemas/common.ts";

export const Header = {
  Principal: "ep-principal",
  RequestId: "ep-request-id",
  SourceIp: "ep-source-ip",
  TraceParent: "traceparent",
  TraceState: "tracestate",
} as const;

export interface CallMeta {
  principal?: Principal | undefined;
  requestId?: string | undefined;
  sourceIp?: string | undefined;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

export function encodeMeta(meta: CallMeta): MsgHdrs {
  const h = natsHeaders();
  if (meta.principal) h.set(Header.Principal, JSON.stringify(meta.principal));
  if (meta.requestId) h.set(Header.RequestId, meta.requestId);
  if (meta.sourceIp) h.set(Header.SourceIp, meta.sourceIp);
  if (meta.traceparent) h.set(Header.TraceParent, meta.traceparent);
  if (meta.tracestate) h.set(Header.TraceState, meta.tracestate);
  return h;
}

/**
 * Read the meta headers of an incoming message (one pass over them, exact names as
 * `get()` matches them); a malformed principal is dropped, never trusted.
 */
export function decodeMeta(h: MsgHdrs | undefined): CallMeta {
  if (!h) return {};
  const meta: CallMeta = {};
  for (const [k, values] of h) {
    const v = values[0];
    if (!v) continue;
    switch (k) {
      case Header.Principal: {
        const p = principalOf(v);
        if (p) meta.principal = p;
        break;
      }
      case Header.RequestId:
        meta.requestId = v;
        break;
      case Header.SourceIp:
        meta.sourceIp = v;
        break;
      case Header.TraceParent:
        meta.traceparent = v;
        break;
      case Header.TraceState:
        meta.tracestate = v;
        break;
    }
  }
  return meta;
}

function principalOf(v: string): Principal | undefined {
  try {
    const parsed = Principal.safeParse(JSON.parse(v));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // malformed header: treated as anonymous
  }
}
