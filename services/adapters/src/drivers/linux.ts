/**
 * linux — the reference driver: a Linux router over SSH. nftables through `nft -j`
 * (JSON out, JSON in on stdin), routes and addresses through `ip -j` (reads) and
 * `ip -batch -` (writes, lines built from validated fields). Rollback: firewall changes
 * restore the ruleset saved just before the change (flush + replay, one atomic nft
 * transaction); route/address changes run the inverse operation. With commit-confirm a
 * device-side timer holding the same restore is armed before the change, so a change
 * that cuts the management path off still rolls back.
 */
import { Errors } from "@edgeplane/proto";
import {
  Commands,
  confirmCommand,
  disarmCommand,
  expectZero,
  type SshSession,
  timerCommand,
  withSsh,
} from "./ssh.ts";
import type { ApplyOutcome, ChangeSpec, Conn, Driver, Item } from "./types.ts";
import { compact } from "./types.ts";

/** Extra seconds the device timer waits past the controller's deadline (the controller rolls back first). */
const DEVICE_TIMER_GRACE_S = 10;

type NftObject = Record<string, unknown>;
interface NftRule {
  family: string;
  table: string;
  chain: string;
  handle: number;
  comment?: string;
  expr: NftObject[];
}

interface Rollback {
  tool: "nft" | "ip";
  /** nft: the JSON transaction restoring the saved ruleset; ip: batch lines undoing the change. */
  restore: string;
  timer: boolean;
}

function parseJson(c: Conn, text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    c.log.warn({ controller: c.controllerId, what }, "device output is not JSON");
    throw Errors.AdapterError.withMessage("the device answered something unexpected", { what });
  }
}

// --- nftables model <-> nft JSON --------------------------------------------------------

function addrRight(a: string): unknown {
  const [addr, len] = a.split("/");
  return len === undefined ? addr : { prefix: { addr, len: Number(len) } };
}
function addrFromRight(r: unknown): string | undefined {
  if (typeof r === "string") return r;
  const p = (r as { prefix?: { addr?: string; len?: number } })?.prefix;
  return p?.addr !== undefined ? `${p.addr}/${p.len}` : undefined;
}
const ipProto = (a: string) => (a.includes(":") ? "ip6" : "ip");

/** Our neutral rule → nft expressions. Every value comes from the validated schema. */
export function ruleExpr(d: Record<string, unknown>): NftObject[] {
  const expr: NftObject[] = [];
  const match = (left: unknown, right: unknown) => ({ match: { op: "==", left, right } });
  if (typeof d.source === "string")
    expr.push(match({ payload: { protocol: ipProto(d.source), field: "saddr" } }, addrRight(d.source)));
  if (typeof d.destination === "string")
    expr.push(
      match({ payload: { protocol: ipProto(d.destination), field: "daddr" } }, addrRight(d.destination)),
    );
  if ((d.protocol === "tcp" || d.protocol === "udp") && typeof d.port === "number")
    expr.push(match({ payload: { protocol: d.protocol, field: "dport" } }, d.port));
  else if (d.protocol === "tcp" || d.protocol === "udp" || d.protocol === "icmp")
    expr.push(match({ meta: { key: "l4proto" } }, d.protocol));
  expr.push({ [String(d.action)]: null });
  return expr;
}

/** nft rule → our neutral model; `managed: false` when it has expressions we do not model. */
export function ruleItem(r: NftRule): Item {
  const item: Item = {
    id: `${r.family}:${r.table}:${r.chain}:${r.handle}`,
    family: r.family,
    table: r.table,
    chain: r.chain,
    handle: r.handle,
    protocol: "any",
  };
  let managed = true;
  for (const e of r.expr) {
    const m = (e as { match?: { op: string; left: Record<string, Record<string, string>>; right: unknown } })
      .match;
    if (m && m.op === "==") {
      const pl = m.left.payload;
      const meta = m.left.meta;
      if (
        pl &&
        (pl.protocol === "tcp" || pl.protocol === "udp") &&
        pl.field === "dport" &&
        typeof m.right === "number"
      ) {
        item.protocol = pl.protocol;
        item.port = m.right;
        continue;
      }
      if (
        pl &&
        (pl.protocol === "ip" || pl.protocol === "ip6") &&
        (pl.field === "saddr" || pl.field === "daddr")
      ) {
        const a = addrFromRight(m.right);
        if (a) {
          item[pl.field === "saddr" ? "source" : "destination"] = a;
          continue;
        }
      }
      if (meta?.key === "l4proto" && typeof m.right === "string") {
        item.protocol = m.right;
        continue;
      }
    }
    if ("accept" in e || "drop" in e || "reject" in e) {
      item.action = Object.keys(e)[0];
      continue;
    }
    if ("counter" in e) continue;
    managed = false;
  }
  if (r.comment !== undefined) item.comment = r.comment;
  if (!managed || item.action === undefined) item.managed = false;
  return item;
}

async function listRuleset(c: Conn, s: SshSession): Promise<NftObject[]> {
  const out = parseJson(
    c,
    expectZero(c, await s.run(Commands.nftList), "nft list ruleset"),
    "nft list ruleset",
  );
  return ((out as { nftables?: NftObject[] }).nftables ?? []).filter((o) => !("metainfo" in o));
}

/** One atomic transaction that puts the ruleset back exactly as saved. */
function restoreTransaction(objects: NftObject[]): string {
  return JSON.stringify({ nftables: [{ flush: { ruleset: null } }, ...objects.map((o) => ({ add: o }))] });
}

function splitRuleId(id: string): { family: string; table: string; chain: string; handle: number } {
  const [family, table, chain, handle] = id.split(":");
  return { family: family ?? "", table: table ?? "", chain: chain ?? "", handle: Number(handle) };
}

/** Run an nft JSON transaction; a missing table/chain/handle is `adapter_not_found`. */
async function nftRun(c: Conn, s: SshSession, tx: unknown, echo = false): Promise<string> {
  const r = await s.run(echo ? Commands.nftApplyEcho : Commands.nftApply, JSON.stringify(tx));
  if (r.code !== 0 && /No such file or directory|Could not process rule/i.test(r.stderr)) {
    c.log.warn({ controller: c.controllerId, stderr: r.stderr.slice(0, 500) }, "nft: object not found");
    throw Errors.AdapterNotFound.withMessage("the device has no such table, chain or rule");
  }
  return expectZero(c, r, "nft -j -f");
}

// --- routes and addresses ---------------------------------------------------------------

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  protocol?: string;
  scope?: string;
}
function routeDst(dst: string): string {
  if (dst === "default" || dst.includes("/")) return dst;
  return dst.includes(":") ? `${dst}/128` : `${dst}/32`;
}
function routeItem(r: IpRoute): Item {
  return compact({
    id: routeDst(r.dst),
    destination: routeDst(r.dst),
    gateway: r.gateway,
    interface: r.dev,
    metric: r.metric,
    protocol: r.protocol,
    scope: r.scope,
  }) as Item;
}
/** `route add|del` line from validated fields (CIDR/IP/ifname grammars: no spaces, no newlines). */
function routeLine(verb: "add" | "del", d: Record<string, unknown>): string {
  const parts = ["route", verb, String(d.destination)];
  if (typeof d.gateway === "string") parts.push("via", d.gateway);
  if (typeof d.interface === "string") parts.push("dev", d.interface);
  if (typeof d.metric === "number") parts.push("metric", String(d.metric));
  return parts.join(" ");
}
function addressLine(verb: "add" | "del", d: Record<string, unknown>): string {
  return ["address", verb, String(d.address), "dev", String(d.interface)].join(" ");
}
const SAFE_TOKEN = /^[A-Za-z0-9_.:/-]+$/;
function checkLine(line: string): string {
  for (const t of line.split(" ")) if (!SAFE_TOKEN.test(t)) throw new Error(`unsafe token in ip batch: ${t}`);
  return `${line}\n`;
}

interface IpAddr {
  ifname: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}

async function readFeature(c: Conn, s: SshSession, feature: string): Promise<Item[]> {
  switch (feature) {
    case "firewall_rules":
      return (await listRuleset(c, s))
        .filter((o) => "rule" in o)
        .map((o) => ruleItem(o.rule as NftRule))
        .filter((i) => ["inet", "ip", "ip6"].includes(String(i.family)));
    case "ruleset": {
      const objects = await listRuleset(c, s);
      const count = (k: string) => objects.filter((o) => k in o).length;
      return [
        { id: "ruleset", tables: count("table"), chains: count("chain"), rules: count("rule"), objects },
      ];
    }
    case "routes": {
      const out = parseJson(
        c,
        expectZero(c, await s.run(Commands.routes), "ip route"),
        "ip route",
      ) as IpRoute[];
      return out.map(routeItem);
    }
    case "addresses": {
      const out = parseJson(
        c,
        expectZero(c, await s.run(Commands.addresses), "ip addr"),
        "ip addr",
      ) as IpAddr[];
      return out.flatMap((l) =>
        (l.addr_info ?? []).map((a) => ({
          id: `${l.ifname}/${a.local}/${a.prefixlen}`,
          interface: l.ifname,
          address: `${a.local}/${a.prefixlen}`,
          family: a.family,
          scope: a.scope,
        })),
      );
    }
    case "interfaces": {
      const out = parseJson(c, expectZero(c, await s.run(Commands.links), "ip link"), "ip link") as Array<
        Record<string, unknown>
      >;
      return out.map(
        (l) =>
          compact({
            id: String(l.ifname),
            name: l.ifname,
            state: l.operstate,
            mtu: l.mtu,
            mac: l.address,
          }) as Item,
      );
    }
    default:
      throw Errors.AdapterNotFound.withMessage(`the linux driver has no feature ${feature}`);
  }
}

async function applyIn(
  c: Conn,
  s: SshSession,
  ch: ChangeSpec,
  confirmWithin?: number,
): Promise<ApplyOutcome> {
  const d = ch.data ?? {};
  const arm = async (tool: "nft" | "ip", restore: string) => {
    if (!confirmWithin) return false;
    expectZero(
      c,
      await s.runBuilt(timerCommand(ch.id, confirmWithin + DEVICE_TIMER_GRACE_S, tool), restore),
      "arm rollback timer",
    );
    return true;
  };
  const disarmOnError = async <T>(armed: boolean, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (armed) await s.runBuilt(disarmCommand(ch.id)).catch(() => undefined);
      throw err;
    }
  };

  if (ch.feature === "firewall_rules" || ch.feature === "ruleset") {
    const restore = restoreTransaction(await listRuleset(c, s));
    const timer = await arm("nft", restore);
    const result = await disarmOnError(timer, async () => {
      if (ch.feature === "ruleset") {
        await nftRun(c, s, { nftables: [{ flush: { ruleset: null } }] });
        return { flushed: true };
      }
      if (ch.operation === "create") {
        const rule = compact({
          family: d.family,
          table: d.table,
          chain: d.chain,
          comment: d.comment,
          expr: ruleExpr(d),
        });
        const echoed = parseJson(
          c,
          await nftRun(c, s, { nftables: [{ add: { rule } }] }, true),
          "nft echo",
        ) as {
          nftables?: Array<{ add?: { rule?: { handle?: number } } }>;
        };
        const handle = echoed.nftables?.find((o) => o.add?.rule?.handle !== undefined)?.add?.rule?.handle;
        return { id: handle !== undefined ? `${d.family}:${d.table}:${d.chain}:${handle}` : null };
      }
      const t = splitRuleId(String(ch.targetId));
      if (ch.operation === "update") {
        const rule = compact({ ...t, comment: d.comment, expr: ruleExpr(d) });
        await nftRun(c, s, { nftables: [{ replace: { rule } }] });
        return { id: ch.targetId };
      }
      await nftRun(c, s, { nftables: [{ delete: { rule: t } }] });
      return { id: ch.targetId };
    });
    return { result, rollback: { tool: "nft", restore, timer } satisfies Rollback };
  }

  if (ch.feature === "routes" || ch.feature === "addresses") {
    const line = ch.feature === "routes" ? routeLine : addressLine;
    const obj = ch.operation === "create" ? d : (ch.before ?? {});
    const forward = checkLine(line(ch.operation === "create" ? "add" : "del", obj));
    const inverse = checkLine(line(ch.operation === "create" ? "del" : "add", obj));
    const timer = await arm("ip", inverse);
    await disarmOnError(timer, async () => {
      const r = await s.run(Commands.ipBatch, forward);
      if (r.code !== 0 && /File exists/i.test(r.stderr))
        throw Errors.Conflict.withMessage("the device already has this object");
      if (r.code !== 0 && /No such process|Cannot assign/i.test(r.stderr))
        throw Errors.AdapterNotFound.withMessage("the device has no such object");
      expectZero(c, r, "ip -batch");
    });
    const id = ch.feature === "routes" ? String(obj.destination) : `${obj.interface}/${obj.address}`;
    return { result: { id }, rollback: { tool: "ip", restore: inverse, timer } satisfies Rollback };
  }
  throw Errors.AdapterError.withMessage(`the linux driver cannot apply ${ch.feature}`);
}

export const linuxDriver: Driver = {
  vendor: "linux",
  test: (c) =>
    withSsh(c, async (s) => {
      const kernel = expectZero(c, await s.run(Commands.uname), "uname").trim();
      const hostname = expectZero(c, await s.run(Commands.hostname), "hostname").trim();
      const nft = await s.run(Commands.nftList);
      return { kernel, hostname, nftables: nft.code === 0 };
    }),
  read: (c, feature) => withSsh(c, (s) => readFeature(c, s, feature)),
  get: (c, feature, id) =>
    withSsh(c, async (s) => {
      const found = (await readFeature(c, s, feature)).find((i) => i.id === id);
      if (!found) throw Errors.AdapterNotFound.create({ feature, id });
      return found;
    }),
  apply: (c, ch, opts) => withSsh(c, (s) => applyIn(c, s, ch, opts.confirmWithin)),
  confirm: (c, ch, rb) =>
    withSsh(c, async (s) => {
      if (!(rb as Rollback).timer) return;
      const r = await s.runBuilt(confirmCommand(ch.id));
      if (r.code !== 0)
        throw Errors.Conflict.withMessage(
          "the device's own rollback timer already restored the previous state",
          {
            status: "rolled_back",
          },
        );
    }),
  rollback: (c, ch, rb) =>
    withSsh(c, async (s) => {
      const r = rb as Rollback;
      if (r.tool === "nft") await nftRun(c, s, JSON.parse(r.restore));
      else {
        const res = await s.run(Commands.ipBatch, r.restore);
        // The inverse of a create whose object is already gone is done.
        if (res.code !== 0 && !/No such process|Cannot assign|File exists/i.test(res.stderr))
          expectZero(c, res, "ip -batch (rollback)");
      }
      if (r.timer) await s.runBuilt(disarmCommand(ch.id));
    }),
};
