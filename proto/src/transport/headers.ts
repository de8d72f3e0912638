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

/** Read the meta headers of an incoming message; a malformed principal is dropped, never trusted. */
export function decodeMeta(h: MsgHdrs | undefined): CallMeta {
  if (!h) return {};
  const meta: CallMeta = {};
  const p = h.get(Header.Principal);
  if (p) {
    try {
      const parsed = Principal.safeParse(JSON.parse(p));
      if (parsed.success) meta.principal = parsed.data;
    } catch {
      /* malformed header: treated as anonymous */
    }
  }
  const rid = h.get(Header.RequestId);
  if (rid) meta.requestId = rid;
  const ip = h.get(Header.SourceIp);
  if (ip) meta.sourceIp = ip;
  const tp = h.get(Header.TraceParent);
  if (tp) meta.traceparent = tp;
  const ts = h.get(Header.TraceState);
  if (ts) meta.tracestate = ts;
  return meta;
}
