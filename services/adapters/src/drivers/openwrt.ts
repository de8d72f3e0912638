/**
 * openwrt — ubus JSON-RPC over HTTP (`/ubus`, rpcd). Every operation logs in
 * (`session.login`), stages UCI edits in that session (`uci add/set/delete`) and applies
 * them with rpcd's own commit-confirm: `uci apply {rollback: true, timeout}` restores the
 * previous configuration by itself unless the same session calls `uci confirm` in time
 * (`uci rollback` undoes at once). The session id is kept, sealed, in the change's
 * rollback record so any worker can confirm or roll back.
 */
import { Errors } from "@edgeplane/proto";
import { expectOk, httpRequest } from "./http.ts";
import type { ChangeSpec, Conn, Driver, Item } from "./types.ts";

type Obj = Record<string, unknown>;

const NULL_SID = "00000000000000000000000000000000";
const UBUS = { OK: 0, NOT_FOUND: 4, NO_DATA: 5, PERMISSION_DENIED: 6, TIMEOUT: 7 } as const;

class UbusStatus extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`ubus status ${status}`);
    this.status = status;
  }
}

async function ubus(c: Conn, sid: string, object: string, method: string, args: Obj): Promise<Obj> {
  const res = expectOk(
    c,
    await httpRequest(c, {
      method: "POST",
      path: "ubus",
      body: { jsonrpc: "2.0", id: 1, method: "call", params: [sid, object, method, args] },
    }),
    `${object}.${method}`,
  );
  const b = res.body as { result?: unknown[]; error?: { code: number; message: string } };
  if (b?.error) {
    c.log.warn({ controller: c.controllerId, error: b.error, call: `${object}.${method}` }, "ubus error");
    if (b.error.code === -32002)
      throw Errors.AdapterAuthentication.withMessage("the device refused the session");
    throw Errors.AdapterError.create({ what: `${object}.${method}` });
  }
  const status = Array.isArray(b?.result) ? Number(b.result[0]) : Number.NaN;
  if (status !== UBUS.OK) throw new UbusStatus(status);
  return (b.result?.[1] ?? {}) as Obj;
}

/** Map a ubus status to the typed error (after the caller handled the ones it expects). */
function typed(c: Conn, err: unknown, what: string): unknown {
  if (!(err instanceof UbusStatus)) return err;
  c.log.warn({ controller: c.controllerId, status: err.status, what }, "ubus call failed");
  if (err.status === UBUS.NOT_FOUND) return Errors.AdapterNotFound.create({ what });
  if (err.status === UBUS.PERMISSION_DENIED) return Errors.AdapterAuthentication.create({ what });
  if (err.status === UBUS.TIMEOUT) return Errors.AdapterTimeout.create({ what });
  return Errors.AdapterError.create({ what, ubus_status: err.status });
}

async function login(c: Conn, timeoutS = 300): Promise<string> {
  try {
    const r = await ubus(c, NULL_SID, "session", "login", {
      username: c.credentials.username,
      password: c.credentials.password,
      timeout: timeoutS,
    });
    const sid = String(r.ubus_rpc_session ?? "");
    if (!/^[0-9a-f]{32}$/.test(sid)) throw Errors.AdapterError.withMessage("the device returned no session");
    return sid;
  } catch (err) {
    if (err instanceof UbusStatus && err.status === UBUS.PERMISSION_DENIED)
      throw Errors.AdapterAuthentication.create();
    throw typed(c, err, "session.login");
  }
}

async function uci(c: Conn, sid: string, method: string, args: Obj): Promise<Obj> {
  try {
    return await ubus(c, sid, "uci", method, args);
  } catch (err) {
    throw typed(c, err, `uci.${method}`);
  }
}

const UCI = {
  firewall_rules: { config: "firewall", type: "rule" },
  network_interfaces: { config: "network", type: "interface" },
} as const;
function uciOf(feature: string) {
  const u = UCI[feature as keyof typeof UCI];
  if (!u) throw Errors.AdapterNotFound.withMessage(`the openwrt driver has no feature ${feature}`);
  return u;
}

const TARGET_TO = { accept: "ACCEPT", drop: "DROP", reject: "REJECT" } as const;

function toVendor(feature: string, d: Obj): Obj {
  if (feature === "firewall_rules") {
    const v: Obj = {
      src: d.src ?? "wan",
      target: TARGET_TO[d.action as keyof typeof TARGET_TO],
      proto: d.protocol === "any" || d.protocol === undefined ? "all" : d.protocol,
      enabled: d.enabled === false ? "0" : "1",
    };
    if (d.name !== undefined) v.name = d.name;
    if (d.dest !== undefined) v.dest = d.dest;
    if (d.source !== undefined) v.src_ip = d.source;
    if (d.destination !== undefined) v.dest_ip = d.destination;
    if (d.port !== undefined) v.dest_port = String(d.port);
    return v;
  }
  const v: Obj = { proto: d.proto, device: d.device };
  if (d.ipaddr !== undefined) v.ipaddr = d.ipaddr;
  if (d.netmask !== undefined) v.netmask = d.netmask;
  return v;
}

function fromVendor(feature: string, name: string, s: Obj): Item {
  if (feature === "firewall_rules") {
    const item: Item = {
      id: name,
      src: s.src,
      action: String(s.target ?? "").toLowerCase(),
      protocol: !s.proto || s.proto === "all" ? "any" : s.proto,
      enabled: s.enabled !== "0",
    };
    if (s.name !== undefined) item.name = s.name;
    if (s.dest !== undefined) item.dest = s.dest;
    if (s.src_ip !== undefined) item.source = s.src_ip;
    if (s.dest_ip !== undefined) item.destination = s.dest_ip;
    if (s.dest_port !== undefined) item.port = Number(s.dest_port);
    return item;
  }
  const item: Item = { id: name, name, proto: s.proto, device: s.device };
  if (s.ipaddr !== undefined) item.ipaddr = s.ipaddr;
  if (s.netmask !== undefined) item.netmask = s.netmask;
  return item;
}

function section(id: string | null): string {
  if (!id || !/^[A-Za-z0-9_]{1,64}$/.test(id)) throw new Error("invalid UCI section name");
  return id;
}

interface Rollback {
  sid: string;
  confirm: boolean;
}

async function readIn(c: Conn, sid: string, feature: string): Promise<Item[]> {
  const u = uciOf(feature);
  const r = await uci(c, sid, "get", { config: u.config, type: u.type });
  return Object.entries((r.values ?? {}) as Record<string, Obj>).map(([name, s]) =>
    fromVendor(feature, name, s),
  );
}

export const openwrtDriver: Driver = {
  vendor: "openwrt",
  async test(c) {
    const sid = await login(c);
    const b = await ubus(c, sid, "system", "board", {}).catch((err: unknown) => {
      throw typed(c, err, "system.board");
    });
    const rel = (b.release ?? {}) as Obj;
    return { hostname: b.hostname ?? null, model: b.model ?? null, version: rel.version ?? null };
  },
  async read(c, feature) {
    return readIn(c, await login(c), feature);
  },
  async get(c, feature, id) {
    const sid = await login(c);
    const u = uciOf(feature);
    const r = await uci(c, sid, "get", { config: u.config, section: section(id) });
    const values = (r.values ?? {}) as Obj;
    if (values[".type"] !== u.type) throw Errors.AdapterNotFound.create({ feature, id });
    return fromVendor(feature, id, values);
  },
  async apply(c, ch: ChangeSpec, opts) {
    if (ch.feature === "system") {
      const sid = await login(c);
      await ubus(c, sid, "system", "reboot", {}).catch((err: unknown) => {
        throw typed(c, err, "system.reboot");
      });
      return { result: { rebooting: true }, rollback: null };
    }
    const u = uciOf(ch.feature);
    // The session must outlive the confirm window: confirm and rollback use it.
    const sid = await login(c, Math.max(300, (opts.confirmWithin ?? 0) + 120));
    const values = ch.data ? toVendor(ch.feature, ch.data) : {};
    let id = ch.targetId;
    if (ch.operation === "create") {
      const args: Obj = { config: u.config, type: u.type, values };
      if (ch.feature === "network_interfaces") args.name = section(String(ch.data?.name));
      id = String((await uci(c, sid, "add", args)).section);
    } else if (ch.operation === "update") {
      await uci(c, sid, "set", { config: u.config, section: section(id), values });
    } else {
      await uci(c, sid, "delete", { config: u.config, section: section(id) });
    }
    try {
      await uci(
        c,
        sid,
        "apply",
        opts.confirmWithin ? { rollback: true, timeout: opts.confirmWithin } : { rollback: false },
      );
    } catch (err) {
      await uci(c, sid, "revert", { config: u.config }).catch(() => undefined);
      if (Errors.AdapterAuthentication.is(err))
        throw Errors.Conflict.withMessage("the device is waiting for another change to be confirmed");
      throw err;
    }
    return { result: { id }, rollback: { sid, confirm: Boolean(opts.confirmWithin) } satisfies Rollback };
  },
  async confirm(c, _ch, rb) {
    const r = rb as Rollback;
    if (!r?.confirm) return;
    try {
      await ubus(c, r.sid, "uci", "confirm", {});
    } catch (err) {
      // No pending rollback any more: rpcd's own timer already restored the old configuration.
      if (err instanceof UbusStatus && (err.status === UBUS.NO_DATA || err.status === UBUS.PERMISSION_DENIED))
        throw Errors.Conflict.withMessage(
          "the device's own rollback timer already restored the previous state",
          {
            status: "rolled_back",
          },
        );
      throw typed(c, err, "uci.confirm");
    }
  },
  async rollback(c, _ch, rb) {
    const r = rb as Rollback;
    if (!r?.confirm)
      throw Errors.AdapterError.withMessage("this change was applied without a rollback point");
    try {
      await ubus(c, r.sid, "uci", "rollback", {});
    } catch (err) {
      // Nothing pending: the device already rolled back by itself.
      if (err instanceof UbusStatus && err.status === UBUS.NO_DATA) return;
      throw typed(c, err, "uci.rollback");
    }
  },
};
