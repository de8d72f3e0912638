/**
 * Semantic equivalence of two haproxy.cfg files, as the import round trip defines it:
 *
 * - the same sections (type + name; `defaults` by position, names ignored), and every
 *   proxy inherits from the same `defaults` (by position, through `from` or file order);
 * - in each section, order-sensitive directives (rules, servers, checks: see
 *   ORDERED_DIRECTIVES in cfgparse.ts) are the same sequences per keyword; every other
 *   directive is the same multiset;
 * - lines are compared as words after quote/escape processing, so quoting style does not
 *   matter; `bind`/`server` options compare as multisets after the address; `--` in ACLs
 *   and the `listen <addr>` header shorthand are normalised;
 * - the directives the agent adds or replaces (master-worker, admin socket, pidfile,
 *   server-state-file, load-server-state-from-file, noreuseport, daemon,
 *   `option idle-close-on-response`, `httpclient.ssl.verify none`) are ignored.
 */
import { ORDERED_DIRECTIVES, parseCfg } from "./cfgparse.ts";

const IGNORED_GLOBAL = new Set([
  "master-worker",
  "daemon",
  "pidfile",
  "server-state-file",
  "noreuseport",
  "nbproc",
]);

export interface SectionModel {
  inherits: number | null;
  ordered: Record<string, string[]>;
  unordered: string[];
}
export type Model = Record<string, SectionModel>;

function normAddr(a: string): string {
  let x = a.replace(/^ipv[46]@/, "");
  if (x.startsWith("*:")) x = x.slice(1);
  if (x.endsWith(":")) x = x.slice(0, -1);
  return x;
}

export function semanticModel(text: string): Model {
  const { sections } = parseCfg(text);
  const model: Model = {};
  const defaultsByName = new Map<string, number>();
  let defaultsCount = 0;
  let lastDefaults: number | null = null;
  for (const sec of sections) {
    let key: string;
    let inherits: number | null = null;
    const args = [...sec.args];
    const fi = args.indexOf("from");
    let from: string | undefined;
    if (fi >= 0) {
      from = args[fi + 1];
      args.splice(fi, 2);
    }
    const extra: string[][] = [];
    if (sec.type === "defaults") {
      key = `defaults#${defaultsCount}`;
      if (args[0]) defaultsByName.set(args[0], defaultsCount);
      lastDefaults = defaultsCount++;
    } else if (sec.type === "global") key = "global";
    else {
      key = `${sec.type} ${args[0] ?? ""}`;
      if (["frontend", "backend", "listen"].includes(sec.type)) {
        inherits = from !== undefined ? (defaultsByName.get(from) ?? -1) : lastDefaults;
        if (sec.type === "listen" && args[1]) extra.push(["bind", args[1]]);
      }
    }
    const m: SectionModel = { inherits, ordered: {}, unordered: [] };
    for (const words of [...extra, ...sec.lines.map((l) => l.words)]) {
      let w = [...words];
      const kw = w[0] as string;
      if (sec.type === "global" && (IGNORED_GLOBAL.has(kw) || (kw === "stats" && w[1] === "socket")))
        continue;
      if (kw === "load-server-state-from-file") continue;
      // Rendered by the agent itself (render.ts): the keep-alive reload option, the CA skip.
      if (kw === "option" && w[1] === "idle-close-on-response" && w.length === 2) continue;
      if (kw === "httpclient.ssl.verify" && w[1] === "none" && sec.type === "global") continue;
      if (kw === "bind") w = ["bind", normAddr(w[1] ?? ""), ...w.slice(2).sort()];
      else if (kw === "server") w = ["server", w[1] ?? "", normAddr(w[2] ?? ""), ...w.slice(3).sort()];
      else if (kw === "acl") w = w.filter((x) => x !== "--");
      const s = JSON.stringify(w);
      if (ORDERED_DIRECTIVES.has(kw)) {
        m.ordered[kw] ??= [];
        m.ordered[kw].push(s);
      } else m.unordered.push(s);
    }
    m.unordered.sort();
    const empty = m.unordered.length === 0 && Object.keys(m.ordered).length === 0;
    if (sec.type === "defaults" && empty) {
      // An empty defaults section (the one the agent adds when there is none) resets to nothing.
      defaultsCount--;
      lastDefaults = null;
      continue;
    }
    if (sec.type === "global" && empty) continue;
    if (model[key]) {
      // Repeated section names (HAProxy merges some): keep them apart by position.
      let n = 2;
      while (model[`${key}#${n}`]) n++;
      key = `${key}#${n}`;
    }
    model[key] = m;
  }
  return model;
}

/** Differences between two models (empty = equivalent), readable in a test failure. */
export function compareModels(a: Model, b: Model): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k];
    const y = b[k];
    if (!x || !y) {
      out.push(`${k}: only in ${x ? "first" : "second"}`);
      continue;
    }
    if (x.inherits !== y.inherits) out.push(`${k}: inherits defaults #${x.inherits} vs #${y.inherits}`);
    if (JSON.stringify(x.unordered) !== JSON.stringify(y.unordered)) {
      const onlyA = x.unordered.filter((l) => !y.unordered.includes(l));
      const onlyB = y.unordered.filter((l) => !x.unordered.includes(l));
      out.push(`${k}: directives differ: -${onlyA.join(" -")} +${onlyB.join(" +")}`);
    }
    for (const kw of new Set([...Object.keys(x.ordered), ...Object.keys(y.ordered)])) {
      if (JSON.stringify(x.ordered[kw] ?? []) !== JSON.stringify(y.ordered[kw] ?? []))
        out.push(`${k}: ${kw} sequence differs`);
    }
  }
  return out;
}
