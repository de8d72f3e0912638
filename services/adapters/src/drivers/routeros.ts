/**
 * routeros — MikroTik RouterOS v7 REST (`/rest/...`, HTTP Basic). GET lists or reads,
 * PUT creates, PATCH updates, DELETE removes; every value on the wire is a string.
 * RouterOS has no commit-confirm over REST (safe mode is a terminal feature), so
 * rollback is emulated: the object's state before the change is kept and the inverse
 * operation restores it (delete what was created, patch back what was updated, re-create
 * what was deleted).
 */
import { Errors } from "@edgeplane/proto";
import { expectOk, type HttpRequest, httpRequest } from "./http.ts";
import type { ChangeSpec, Conn, Driver, Item } from "./types.ts";

type Rec = Record<string, string>;
type Obj = Record<string, unknown>;

const MENU = {
  firewall_rules: "ip/firewall/filter",
  addresses: "ip/address",
  routes: "ip/route",
} as const;

function menu(feature: string): string {
  const m = MENU[feature as keyof typeof MENU];
  if (!m) throw Errors.AdapterNotFound.withMessage(`the routeros driver has no feature ${feature}`);
  return m;
}
function rosId(id: string | null): string {
  if (!id || !/^\*[0-9A-F]{1,8}$/.test(id)) throw new Error("invalid RouterOS id");
  return id;
}

async function call(c: Conn, method: HttpRequest["method"], path: string, body?: Rec): Promise<unknown> {
  const req: HttpRequest = {
    method,
    path: `rest/${path}`,
    basic: { user: c.credentials.username ?? "", pass: c.credentials.password ?? "" },
  };
  if (body !== undefined) req.body = body;
  const res = await httpRequest(c, req);
  if (res.status === 400) {
    c.log.warn({ controller: c.controllerId, body: res.body }, "routeros refused the request");
    throw Errors.AdapterError.withMessage("the device refused the change");
  }
  return expectOk(c, res, path).body;
}

const bool = (b: unknown) => (b === true ? "true" : "false");

/** Neutral object → RouterOS record (strings). `unset` adds "" for absent optional fields (PATCH). */
function toVendor(feature: string, d: Obj, unset = false): Rec {
  const out: Rec = {};
  const opt = (k: string, v: unknown) => {
    if (v !== undefined && v !== null) out[k] = String(v);
    else if (unset) out[k] = "";
  };
  if (feature === "firewall_rules") {
    out.chain = String(d.chain ?? "input");
    out.action = String(d.action);
    opt("protocol", d.protocol === "any" ? undefined : d.protocol);
    opt("src-address", d.source);
    opt("dst-address", d.destination);
    opt("dst-port", d.port);
    opt("in-interface", d.in_interface);
  } else if (feature === "addresses") {
    out.address = String(d.address);
    out.interface = String(d.interface);
  } else {
    out["dst-address"] = String(d.destination);
    out.gateway = String(d.gateway);
    out.distance = String(d.distance ?? 1);
  }
  out.disabled = bool(d.disabled);
  opt("comment", d.comment);
  return out;
}

function fromVendor(feature: string, r: Rec): Item {
  const item: Item = { id: String(r[".id"]), disabled: r.disabled === "true" };
  if (feature === "firewall_rules") {
    Object.assign(item, { chain: r.chain, action: r.action, protocol: r.protocol ?? "any" });
    if (r["src-address"]) item.source = r["src-address"];
    if (r["dst-address"]) item.destination = r["dst-address"];
    if (r["dst-port"]) item.port = Number(r["dst-port"]);
    if (r["in-interface"]) item.in_interface = r["in-interface"];
  } else if (feature === "addresses") {
    Object.assign(item, { address: r.address, interface: r.interface });
    if (r.dynamic === "true") item.dynamic = true;
  } else {
    Object.assign(item, {
      destination: r["dst-address"],
      gateway: r.gateway,
      distance: Number(r.distance ?? 1),
    });
  }
  if (r.comment) item.comment = r.comment;
  return item;
}

interface Rollback {
  op: ChangeSpec["operation"];
  id: string | null;
  data: Obj | null;
}

async function run(
  c: Conn,
  feature: string,
  op: ChangeSpec["operation"],
  id: string | null,
  data: Obj | null,
) {
  const m = menu(feature);
  if (op === "create") return (await call(c, "PUT", m, toVendor(feature, data ?? {}))) as Rec;
  if (op === "update")
    return (await call(c, "PATCH", `${m}/${rosId(id)}`, toVendor(feature, data ?? {}, true))) as Rec;
  await call(c, "DELETE", `${m}/${rosId(id)}`);
  return undefined;
}

export const routerosDriver: Driver = {
  vendor: "routeros",
  async test(c) {
    const r = (await call(c, "GET", "system/resource")) as Rec;
    return { version: r.version ?? null, board: r["board-name"] ?? null, uptime: r.uptime ?? null };
  },
  async read(c, feature) {
    const rows = (await call(c, "GET", menu(feature))) as Rec[];
    return rows.map((r) => fromVendor(feature, r));
  },
  async get(c, feature, id) {
    return fromVendor(feature, (await call(c, "GET", `${menu(feature)}/${rosId(id)}`)) as Rec);
  },
  async apply(c, ch) {
    if (ch.feature === "system") {
      await call(c, "POST", "system/reboot", {});
      return { result: { rebooting: true }, rollback: null };
    }
    const rec = await run(c, ch.feature, ch.operation, ch.targetId, ch.data);
    const id = rec?.[".id"] ?? ch.targetId;
    const inverse: Rollback =
      ch.operation === "create"
        ? { op: "delete", id: id ?? null, data: null }
        : ch.operation === "update"
          ? { op: "update", id, data: ch.before }
          : { op: "create", id: null, data: ch.before };
    return { result: { id }, rollback: inverse };
  },
  async confirm() {
    // Emulated commit-confirm: nothing is armed on the device; keeping the change is a no-op.
  },
  async rollback(c, ch, rb) {
    const r = rb as Rollback;
    try {
      await run(c, ch.feature, r.op, r.id, r.data);
    } catch (err) {
      // Undoing a create whose object is already gone: nothing left to undo.
      if (!(r.op === "delete" && Errors.AdapterNotFound.is(err))) throw err;
    }
  },
};
