/**
 * opnsense — the OPNsense REST API (HTTP Basic with key/secret). Firewall filter rules
 * use OPNsense's own commit-confirm: `savepoint` → change → `apply/{revision}` (the
 * device rolls back by itself after 60 s) → `cancelRollback/{revision}` on confirm, or
 * `revert/{revision}` to roll back at once. Aliases are undone by the inverse operation.
 * OPNsense answers 200 with `{result: "failed", validations}` for refused input and an
 * empty array for unknown uuids; both are mapped to typed errors here.
 */
import { Errors } from "@edgeplane/proto";
import { expectOk, type HttpRequest, httpRequest } from "./http.ts";
import type { ChangeSpec, Conn, Driver, Item } from "./types.ts";

type Obj = Record<string, unknown>;

async function call(c: Conn, method: HttpRequest["method"], path: string, body?: unknown): Promise<Obj> {
  const req: HttpRequest = {
    method,
    path,
    basic: { user: c.credentials.api_key ?? "", pass: c.credentials.api_secret ?? "" },
  };
  if (body !== undefined) req.body = body;
  const res = expectOk(c, await httpRequest(c, req), path);
  return (res.body && typeof res.body === "object" ? res.body : {}) as Obj;
}

function saved(c: Conn, r: Obj, what: string): Obj {
  if (r.result === "saved" || r.result === "deleted") return r;
  if (r.result === "not found" || (r.result === "failed" && !r.validations))
    throw Errors.AdapterNotFound.create({ what });
  c.log.warn({ controller: c.controllerId, what, validations: r.validations }, "opnsense refused the change");
  throw Errors.AdapterError.withMessage("the device refused the change", {
    fields: Object.keys((r.validations as Obj | undefined) ?? {}),
  });
}

// --- model mapping ------------------------------------------------------------------------

const ACTION_TO = { accept: "pass", drop: "block", reject: "reject" } as const;
const ACTION_FROM: Record<string, string> = { pass: "accept", block: "drop", reject: "reject" };

function ruleToVendor(d: Obj): Record<string, string> {
  const v6 = [d.source, d.destination].some((a) => typeof a === "string" && a.includes(":"));
  return {
    enabled: d.enabled === false ? "0" : "1",
    action: ACTION_TO[d.action as keyof typeof ACTION_TO],
    interface: String(d.interface ?? "lan"),
    direction: String(d.direction ?? "in"),
    ipprotocol: v6 ? "inet6" : "inet",
    protocol: d.protocol === "any" || d.protocol === undefined ? "any" : String(d.protocol).toUpperCase(),
    source_net: typeof d.source === "string" ? d.source : "any",
    destination_net: typeof d.destination === "string" ? d.destination : "any",
    destination_port: typeof d.port === "number" ? String(d.port) : "",
    description: typeof d.comment === "string" ? d.comment : "",
  };
}

function ruleFromVendor(id: string, r: Obj): Item {
  const item: Item = {
    id,
    action: ACTION_FROM[String(r.action)] ?? String(r.action),
    interface: r.interface,
    direction: r.direction,
    protocol: String(r.protocol ?? "any").toLowerCase(),
    enabled: r.enabled !== "0",
  };
  if (r.source_net && r.source_net !== "any") item.source = r.source_net;
  if (r.destination_net && r.destination_net !== "any") item.destination = r.destination_net;
  if (r.destination_port) item.port = Number(r.destination_port);
  if (r.description) item.comment = r.description;
  return item;
}

function aliasToVendor(d: Obj): Record<string, string> {
  return {
    enabled: d.enabled === false ? "0" : "1",
    name: String(d.name),
    type: String(d.type),
    content: (d.content as string[]).join("\n"),
    description: typeof d.comment === "string" ? d.comment : "",
  };
}
function aliasFromVendor(id: string, a: Obj): Item {
  const item: Item = {
    id,
    name: a.name,
    type: a.type,
    content: String(a.content ?? "")
      .split("\n")
      .filter(Boolean),
    enabled: a.enabled !== "0",
  };
  if (a.description) item.comment = a.description;
  return item;
}

const FEATURES = {
  firewall_rules: {
    base: "/api/firewall/filter",
    key: "rule",
    search: "searchRule",
    get: "getRule",
    add: "addRule",
    set: "setRule",
    del: "delRule",
    to: ruleToVendor,
    from: ruleFromVendor,
  },
  aliases: {
    base: "/api/firewall/alias",
    key: "alias",
    search: "searchItem",
    get: "getItem",
    add: "addItem",
    set: "setItem",
    del: "delItem",
    to: aliasToVendor,
    from: aliasFromVendor,
  },
} as const;

function feat(name: string) {
  const f = FEATURES[name as keyof typeof FEATURES];
  if (!f) throw Errors.AdapterNotFound.withMessage(`the opnsense driver has no feature ${name}`);
  return f;
}

/** Ids reach URLs only after the catalogue's UUID grammar; checked again here. */
function uuid(id: string | null): string {
  if (!id || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id))
    throw new Error("invalid uuid");
  return id;
}
function revision(r: unknown): string {
  const s = String(r);
  if (!/^[0-9.]{1,40}$/.test(s))
    throw Errors.AdapterError.withMessage("the device returned an unexpected revision");
  return s;
}

async function getItem(c: Conn, feature: string, id: string): Promise<Item> {
  const f = feat(feature);
  const r = await call(c, "GET", `${f.base}/${f.get}/${uuid(id)}`);
  const obj = r[f.key] as Obj | undefined;
  if (!obj || Array.isArray(r)) throw Errors.AdapterNotFound.create({ feature, id });
  return f.from(id, obj);
}

/** Run one object change; returns the affected uuid. */
async function mutate(
  c: Conn,
  ch: ChangeSpec,
  op: ChangeSpec["operation"],
  data: Obj | null,
  id: string | null,
) {
  const f = feat(ch.feature);
  if (op === "create") {
    const r = saved(c, await call(c, "POST", `${f.base}/${f.add}`, { [f.key]: f.to(data ?? {}) }), f.add);
    return String(r.uuid);
  }
  if (op === "update") {
    saved(c, await call(c, "POST", `${f.base}/${f.set}/${uuid(id)}`, { [f.key]: f.to(data ?? {}) }), f.set);
    return uuid(id);
  }
  saved(c, await call(c, "POST", `${f.base}/${f.del}/${uuid(id)}`), f.del);
  return uuid(id);
}

interface Rollback {
  /** Savepoint revision (firewall rules, commit-confirm). */
  revision?: string;
  /** Inverse operation (aliases): what to run to undo. */
  inverse?: { op: ChangeSpec["operation"]; id: string | null; data: Obj | null };
}

export const opnsenseDriver: Driver = {
  vendor: "opnsense",
  async test(c) {
    const r = await call(c, "GET", "/api/core/firmware/status");
    return { product: r.product_name ?? null, version: r.product_version ?? null };
  },
  async read(c, feature) {
    if (feature === "dhcp_leases") {
      const r = await call(c, "GET", "/api/dhcpv4/leases/searchLease");
      return ((r.rows as Obj[]) ?? []).map((l) => ({
        id: String(l.address),
        address: l.address,
        mac: l.hwaddr,
        hostname: l.hostname || null,
        starts: l.starts,
        ends: l.ends,
        state: l.state,
        interface: l.if_descr,
      }));
    }
    const f = feat(feature);
    const r = await call(c, "GET", `${f.base}/${f.search}`);
    return ((r.rows as Obj[]) ?? []).map((row) => f.from(String(row.uuid), row));
  },
  get: getItem,
  async apply(c, ch, opts) {
    if (ch.feature === "system") {
      await call(c, "POST", "/api/core/system/reboot");
      return { result: { rebooting: true }, rollback: {} };
    }
    const f = feat(ch.feature);
    if (ch.feature === "firewall_rules") {
      const rev = opts.confirmWithin
        ? revision((await call(c, "POST", `${f.base}/savepoint`)).revision)
        : undefined;
      const id = await mutate(c, ch, ch.operation, ch.data, ch.targetId);
      const applied = await call(c, "POST", rev ? `${f.base}/apply/${rev}` : `${f.base}/apply`);
      if (!/^OK/.test(String(applied.status)))
        throw Errors.AdapterError.withMessage("the device did not apply the rules");
      return { result: { id }, rollback: (rev ? { revision: rev } : {}) satisfies Rollback };
    }
    const id = await mutate(c, ch, ch.operation, ch.data, ch.targetId);
    await call(c, "POST", `${f.base}/reconfigure`);
    const inverse: Rollback["inverse"] =
      ch.operation === "create"
        ? { op: "delete", id, data: null }
        : ch.operation === "update"
          ? { op: "update", id, data: ch.before }
          : { op: "create", id: null, data: ch.before };
    return { result: { id }, rollback: { inverse } satisfies Rollback };
  },
  async confirm(c, ch, rb) {
    const r = rb as Rollback;
    if (r.revision) await call(c, "POST", `${feat(ch.feature).base}/cancelRollback/${revision(r.revision)}`);
  },
  async rollback(c, ch, rb) {
    const r = rb as Rollback;
    const f = feat(ch.feature);
    if (r.revision) {
      const out = await call(c, "POST", `${f.base}/revert/${revision(r.revision)}`);
      if (!/^OK/i.test(String(out.status)))
        throw Errors.AdapterError.withMessage("the device did not revert");
      return;
    }
    if (r.inverse) {
      try {
        await mutate(c, ch, r.inverse.op, r.inverse.data, r.inverse.id);
      } catch (err) {
        if (!(r.inverse.op === "delete" && Errors.AdapterNotFound.is(err))) throw err;
      }
      await call(c, "POST", `${f.base}/reconfigure`);
    }
  },
};
