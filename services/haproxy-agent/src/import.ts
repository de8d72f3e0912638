/**
 * haproxy.cfg → state document. What is understood becomes structured fields; every other
 * line is kept verbatim in `advanced` for its section (and listed in `raw_lines`), never
 * dropped silently. Only the directives the agent manages itself (master-worker, the
 * admin socket, pidfile, server-state-file, daemon) are replaced, and listed in `dropped`.
 *
 * Order-sensitive directives (rules, servers, http-check) of one keyword stay together:
 * if one line of such a keyword cannot be structured, all lines of that keyword in that
 * section go to `advanced`, in their order.
 */
import {
  Acl,
  Bind,
  type FieldIssue,
  hasControlChar,
  OptionLine,
  Rule,
  Server,
  StateDocument,
  type StateDocumentInput,
  TcpRule,
  UseBackend,
} from "@edgeplane/proto";
import type { z } from "zod";
import { type CfgLine, type CfgSection, ORDERED_DIRECTIVES, parseCfg } from "./cfgparse.ts";

export interface ImportResult {
  state: StateDocument;
  rawLines: Array<{ section: string; line: number; text: string }>;
  dropped: Array<{ line: number; text: string; reason: string }>;
  issues: FieldIssue[];
}

/** Directives the agent renders itself. */
const MANAGED_GLOBAL: Record<string, string> = {
  "master-worker": "the agent runs haproxy in master-worker mode itself",
  daemon: "the agent supervises haproxy (no daemon mode)",
  pidfile: "the agent chooses the pidfile",
  "server-state-file": "the agent manages the server-state file",
  nbproc: "removed in HAProxy 2.5",
};

const TIMEOUTS: Record<string, string> = {
  connect: "connect",
  client: "client",
  server: "server",
  "http-request": "http_request",
  "http-keep-alive": "http_keep_alive",
  queue: "queue",
  tunnel: "tunnel",
  "client-fin": "client_fin",
  "server-fin": "server_fin",
  check: "check",
  tarpit: "tarpit",
};

const ok = <T extends z.ZodType>(schema: T, v: unknown): z.infer<T> | undefined => {
  const r = schema.safeParse(v);
  return r.success ? r.data : undefined;
};
const isInt = (s: string | undefined) => s !== undefined && /^\d{1,9}$/.test(s);
const DURATION_RE = /^\d{1,10}(us|ms|s|m|h|d)?$/;

/** Split `<words…> if|unless <cond…>` */
function splitCond(words: string[]) {
  const i = words.findIndex((w) => w === "if" || w === "unless");
  if (i < 0) return { head: words, cond: undefined, cond_test: undefined };
  return {
    head: words.slice(0, i),
    cond: words[i] as "if" | "unless",
    cond_test: words.slice(i + 1).join(" "),
  };
}
const condFields = (c: ReturnType<typeof splitCond>) =>
  c.cond ? { cond: c.cond, cond_test: c.cond_test } : {};

function parseAddrPort(s: string): { address: string; port: number } | undefined {
  const m = /^(.*):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  let address = (m[1] ?? "").replace(/^ipv[46]@/, "");
  if (address.startsWith("[") && address.endsWith("]")) address = address.slice(1, -1);
  return { address: address === "" ? "*" : address, port: Number(m[2]) };
}

function parseBind(words: string[]): z.infer<typeof Bind> | undefined {
  const ap = parseAddrPort(words[1] ?? "");
  if (!ap || ap.port < 1 || ap.port > 65535) return undefined;
  const b: Record<string, unknown> = { address: ap.address, port: ap.port };
  for (let i = 2; i < words.length; i++) {
    const w = words[i];
    if (w === "accept-proxy") b.accept_proxy = true;
    else if (w === "transparent") b.transparent = true;
    else if (w === "v4v6") b.v4v6 = true;
    else if (w === "maxconn" && isInt(words[i + 1])) b.maxconn = Number(words[++i]);
    else if (w === "name" && words[i + 1]) b.name = words[++i];
    else return undefined;
  }
  return ok(Bind, b);
}

function parseServer(words: string[]): z.infer<typeof Server> | undefined {
  const [, name, addr] = words;
  if (!name || !addr) return undefined;
  const ap = parseAddrPort(addr);
  const bare = addr.replace(/^ipv[46]@/, "").replace(/^([0-9.]+|[A-Za-z0-9.-]+):$/, "$1");
  const s: Record<string, unknown> = { name, ...(ap ? ap : { address: bare }) };
  const flag: Record<string, string> = { check: "check", backup: "backup", disabled: "disabled", ssl: "ssl" };
  const num: Record<string, string> = {
    weight: "weight",
    rise: "rise",
    fall: "fall",
    maxconn: "maxconn",
    maxqueue: "maxqueue",
  };
  for (let i = 3; i < words.length; i++) {
    const w = words[i] as string;
    const next = words[i + 1];
    if (flag[w]) s[flag[w]] = true;
    else if (num[w] && isInt(next)) {
      s[num[w]] = Number(next);
      i++;
    } else if (w === "inter" && next && DURATION_RE.test(next)) {
      s.inter = next;
      i++;
    } else if (w === "verify" && (next === "none" || next === "required")) {
      s.verify = next;
      i++;
    } else if (w === "send-proxy") s.send_proxy = "v1";
    else if (w === "send-proxy-v2") s.send_proxy = "v2";
    else if (w === "cookie" && next) {
      s.cookie = next;
      i++;
    } else if (w === "resolvers" && next) {
      s.resolvers = next;
      i++;
    } else if (w === "init-addr" && next) {
      s.init_addr = next;
      i++;
    } else if (w === "sni" && next) {
      s.sni = next;
      i++;
    } else if (w === "alpn" && next) {
      s.alpn = next.split(",");
      i++;
    } else return undefined;
  }
  return ok(Server, s);
}

function parseAcl(words: string[]): z.infer<typeof Acl> | undefined {
  const [, name, criterion, ...rest] = words;
  if (!name || !criterion) return undefined;
  const a: Record<string, unknown> = { name, criterion, flags: [] as string[], values: [] as string[] };
  let i = 0;
  for (; i < rest.length; i++) {
    const w = rest[i] as string;
    if (w === "-i" || w === "-n") (a.flags as string[]).push(w);
    else if (w === "-m" && rest[i + 1]) a.match = rest[++i];
    else if (w === "--") {
      i++;
      break;
    } else if (w.startsWith("-"))
      return undefined; // -f, -M, -u …: files and other flags stay raw
    else break;
  }
  a.values = rest.slice(i);
  return ok(Acl, a);
}

function parseRule(words: string[]): z.infer<typeof Rule> | undefined {
  const c = splitCond(words.slice(1));
  const [action, ...args] = c.head;
  if (!action) return undefined;
  const r = { action, args, ...condFields(c) };
  return ok(Rule, r);
}

function parseTcpRule(words: string[]): z.infer<typeof TcpRule> | undefined {
  const stage = words[1];
  if (stage === "inspect-delay") {
    const r = { stage, args: words.slice(2) };
    return ok(TcpRule, r);
  }
  const c = splitCond(words.slice(2));
  const [action, ...args] = c.head;
  const r = { stage, action, args, ...condFields(c) };
  return ok(TcpRule, r);
}

/** Structured fields of one proxy-like section; returns what stays raw. */
function parseProxy(sec: CfgSection, kind: "defaults" | "frontend" | "backend" | "listen") {
  const p: Record<string, unknown> = { timeouts: {} as Record<string, string>, options: [] as string[] };
  const lists: Record<string, unknown[]> = {};
  const push = (k: string, v: unknown) => {
    lists[k] ??= [];
    (lists[k] as unknown[]).push(v);
  };
  const raw: CfgLine[] = [];
  // First pass: which ordered keywords have an unparseable line?
  const handled = new Map<CfgLine, () => void>();
  const failedKeywords = new Set<string>();
  const isFront = kind === "frontend" || kind === "listen";
  const isBack = kind === "backend" || kind === "listen";
  for (const l of sec.lines) {
    const w = l.words;
    const kw = w[0] as string;
    let h: (() => void) | undefined;
    if (l.env) h = undefined;
    else if (kw === "mode" && (w[1] === "http" || w[1] === "tcp") && w.length === 2)
      h = () => (p.mode = w[1]);
    else if (kw === "maxconn" && isInt(w[1]) && w.length === 2 && kind !== "backend")
      h = () => (p.maxconn = Number(w[1]));
    else if (kw === "retries" && isInt(w[1]) && w.length === 2 && kind !== "frontend")
      h = () => (p.retries = Number(w[1]));
    else if (kw === "log" && w[1] === "global" && w.length === 2) h = () => (p.log = "global");
    else if (kw === "log-format" && w.length === 2 && kind !== "backend" && !hasControlChar(w[1] ?? ""))
      h = () => (p.log_format = w[1]);
    else if (kw === "option" && w.length >= 2 && ok(OptionLine, w.slice(1).join(" ")))
      h = () => (p.options as string[]).push(w.slice(1).join(" "));
    else if (
      kw === "no" &&
      w[1] === "option" &&
      w.length >= 3 &&
      ok(OptionLine, `no ${w.slice(2).join(" ")}`)
    )
      h = () => (p.options as string[]).push(`no ${w.slice(2).join(" ")}`);
    else if (
      kw === "timeout" &&
      w.length === 3 &&
      TIMEOUTS[w[1] as string] &&
      DURATION_RE.test(w[2] as string)
    )
      h = () => ((p.timeouts as Record<string, string>)[TIMEOUTS[w[1] as string] as string] = w[2] as string);
    else if (
      kw === "balance" &&
      kind === "defaults" &&
      w.length >= 2 &&
      /^[a-z_-]+(\([a-z0-9_.-]*\))?$/.test(w[1] as string) &&
      w.slice(2).every((x) => /^[A-Za-z0-9_.-]+$/.test(x))
    )
      h = () => (p.balance = w.slice(1).join(" "));
    else if (kw === "balance" && isBack && w.length >= 2) {
      const m = /^([a-z_-]+)(?:\(([^)]*)\))?$/.exec(w[1] as string);
      const bal = m ? { algorithm: m[1], args: [...(m[2] ? [m[2]] : []), ...w.slice(2)] } : undefined;
      const valid =
        bal &&
        (m?.[2] === undefined || m[1] === "hdr" || m[1] === "rdp-cookie") &&
        ok(StateDocument.shape.backends.unwrap().element.shape.balance, bal);
      if (valid) h = () => (p.balance = bal);
    } else if (
      kw === "default-server" &&
      kind !== "frontend" &&
      w.length >= 2 &&
      w.slice(1).every((x) => /^[A-Za-z0-9_.:/%+=,@?&*[\]()!<>~^{}|;-]+$/.test(x))
    )
      h = () => (p.default_server = w.slice(1));
    else if (kw === "bind" && isFront) {
      const b = parseBind(w);
      if (b) h = () => push("binds", b);
    } else if (kw === "server" && isBack) {
      const s = parseServer(w);
      if (s) h = () => push("servers", s);
    } else if (kw === "acl" && kind !== "defaults") {
      const a = parseAcl(w);
      if (a) h = () => push("acls", a);
    } else if ((kw === "http-request" || kw === "http-response") && kind !== "defaults") {
      const r = parseRule(w);
      if (r) h = () => push(kw === "http-request" ? "http_request" : "http_response", r);
    } else if (kw === "tcp-request" && kind !== "defaults") {
      const r = parseTcpRule(w);
      if (r) h = () => push("tcp_request", r);
    } else if (kw === "use_backend" && isFront) {
      const c = splitCond(w.slice(1));
      const u = { backend: c.head[0], ...condFields(c) };
      if (c.head.length === 1 && ok(UseBackend, u)) h = () => push("use_backends", u);
    } else if (
      kw === "default_backend" &&
      isFront &&
      w.length === 2 &&
      /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/.test(w[1] as string)
    )
      h = () => (p.default_backend = w[1]);
    else if (
      kw === "capture" &&
      isFront &&
      (w[1] === "request" || w[1] === "response") &&
      w[2] === "header" &&
      w[4] === "len" &&
      isInt(w[5]) &&
      w.length === 6
    )
      h = () => push("captures", { type: w[1], header: w[3], length: Number(w[5]) });
    else if (kw === "cookie" && isBack && w.length >= 2) {
      const mode = ["insert", "rewrite", "prefix"].includes(w[2] ?? "") ? w[2] : undefined;
      const opts = w.slice(mode ? 3 : 2);
      const c = { name: w[1], ...(mode ? { mode } : {}), options: opts };
      if (ok(StateDocument.shape.backends.unwrap().element.shape.cookie, c)) h = () => (p.cookie = c);
    } else if (kw === "stick-table" && isBack) {
      const t: Record<string, unknown> = { store: [] };
      let good = true;
      for (let i = 1; i < w.length; i++) {
        const k = w[i];
        const v = w[i + 1];
        if (k === "type" && v) t.type = v;
        else if (k === "len" && isInt(v)) t.len = Number(v);
        else if (k === "size" && v) t.size = v;
        else if (k === "expire" && v) t.expire = v;
        else if (k === "store" && v) t.store = v.split(",");
        else good = false;
        i++;
      }
      if (good && ok(StateDocument.shape.backends.unwrap().element.shape.stick_table, t))
        h = () => (p.stick_table = t);
    } else if (kw === "stick" && isBack) {
      const c = splitCond(w.slice(1));
      const [type, pattern, tk, table] = c.head;
      const s = { type, pattern, ...(tk === "table" && table ? { table } : {}), ...condFields(c) };
      const n = tk === "table" ? 4 : 2;
      if (
        c.head.length === n &&
        ok(StateDocument.shape.backends.unwrap().element.shape.stick.unwrap().element, s)
      )
        h = () => push("stick", s);
    }
    if (h) handled.set(l, h);
    else if (ORDERED_DIRECTIVES.has(kw)) failedKeywords.add(kw);
  }
  for (const l of sec.lines) {
    const kw = l.words[0] as string;
    if (kw === "load-server-state-from-file") continue; // the agent renders it in every defaults
    const h = handled.get(l);
    if (h && !failedKeywords.has(kw)) h();
    else raw.push(l);
  }
  return { fields: { ...p, ...lists }, raw };
}

export function importConfig(text: string): ImportResult {
  const parsed = parseCfg(text);
  const rawLines: ImportResult["rawLines"] = [];
  const dropped: ImportResult["dropped"] = [];
  const issues: FieldIssue[] = parsed.errors.map((e) => ({
    field: `body.line.${e.line}`,
    message: `line ${e.line}: ${e.reason}: ${e.text.slice(0, 200)}`,
    type: "import",
  }));
  const doc: StateDocumentInput & Record<string, unknown> = {
    global: {},
    defaults: [],
    frontends: [],
    backends: [],
    listens: [],
    userlists: [],
    advanced: { global: [], defaults: {}, frontends: {}, backends: {}, listens: {}, sections: [] },
  };
  const adv = doc.advanced as {
    global: string[];
    defaults: Record<string, string[]>;
    frontends: Record<string, string[]>;
    backends: Record<string, string[]>;
    listens: Record<string, string[]>;
    sections: Array<{ type: string; name: string; lines: string[] }>;
  };
  const keepRaw = (sec: CfgSection, list: string[], l: CfgLine) => {
    list.push(l.text);
    rawLines.push({ section: sec.header, line: l.line, text: l.text });
  };

  const defaultsSections = parsed.sections.filter((s) => s.type === "defaults");
  const multiDefaults = defaultsSections.length > 1;
  let lastDefaults: string | undefined;
  let anon = 0;
  for (const sec of parsed.sections) {
    if (sec.type === "global") {
      const g = doc.global as Record<string, unknown>;
      for (const l of sec.lines) {
        const [kw, a1, a2] = l.words as [string, string | undefined, string | undefined];
        if (MANAGED_GLOBAL[kw]) {
          dropped.push({ line: l.line, text: l.text, reason: MANAGED_GLOBAL[kw] });
          continue;
        }
        if (kw === "stats" && a1 === "socket") {
          dropped.push({ line: l.line, text: l.text, reason: "the agent configures the admin socket" });
          continue;
        }
        if (kw === "maxconn" && isInt(a1) && l.words.length === 2) g.maxconn = Number(a1);
        else if (kw === "nbthread" && isInt(a1) && l.words.length === 2 && Number(a1) <= 64)
          g.nbthread = Number(a1);
        else if (
          kw.startsWith("tune.") &&
          l.words.length === 2 &&
          /^[a-z0-9]+([.-][a-z0-9]+)*$/.test(kw.slice(5)) &&
          /^[A-Za-z0-9_.:/%+=,@-]+$/.test(a1 ?? "")
        ) {
          g.tune ??= {};
          const tune = g.tune as Record<string, unknown>;
          tune[kw.slice(5)] = isInt(a1) ? Number(a1) : a1;
        } else if (kw === "hard-stop-after" && a1 && DURATION_RE.test(a1) && l.words.length === 2)
          g.hard_stop_after = a1;
        else if (kw === "stats" && a1 === "timeout" && a2 && DURATION_RE.test(a2) && l.words.length === 3)
          g.stats_timeout = a2;
        else keepRaw(sec, adv.global, l);
      }
      continue;
    }
    if (
      sec.type === "defaults" ||
      sec.type === "frontend" ||
      sec.type === "backend" ||
      sec.type === "listen"
    ) {
      const kind = sec.type;
      const args = [...sec.args];
      let from: string | undefined;
      const fi = args.indexOf("from");
      if (fi >= 0) {
        from = args[fi + 1];
        args.splice(fi, 2);
      }
      let name = args[0];
      const { fields, raw } = parseProxy(sec, kind);
      if (kind === "defaults") {
        if (!name && multiDefaults) name = `defaults${++anon}`;
        const d = { ...(name ? { name } : {}), ...fields };
        const idx = (doc.defaults as unknown[]).length;
        (doc.defaults as unknown[]).push(d);
        lastDefaults = name;
        adv.defaults[name ?? `#${idx}`] ??= [];
        for (const l of raw) keepRaw(sec, adv.defaults[name ?? `#${idx}`] as string[], l);
        continue;
      }
      if (!name) {
        issues.push({
          field: `body.line.${sec.line}`,
          message: `line ${sec.line}: ${kind} without a name`,
          type: "import",
        });
        continue;
      }
      const p: Record<string, unknown> = { name, ...fields };
      const inherit = from ?? (multiDefaults ? lastDefaults : undefined);
      if (inherit) p.defaults = inherit;
      if (kind === "listen" && args[1]) {
        // `listen name <addr:port>`: the header's address is a bind.
        const b = parseBind(["bind", args[1]]);
        if (b) p.binds = [b, ...((p.binds as unknown[] | undefined) ?? [])];
        else
          issues.push({
            field: `body.line.${sec.line}`,
            message: `line ${sec.line}: listen address '${args[1]}' not understood`,
            type: "import",
          });
      }
      const listKey = kind === "frontend" ? "frontends" : kind === "backend" ? "backends" : "listens";
      (doc[listKey] as unknown[]).push(p);
      adv[listKey][name] ??= [];
      for (const l of raw) keepRaw(sec, adv[listKey][name] as string[], l);
      continue;
    }
    // userlist, resolvers, peers, mailers, cache, … are kept as raw sections.
    const name = sec.args[0] ?? "";
    adv.sections.push({ type: sec.type, name, lines: sec.lines.map((l) => l.text) });
    for (const l of sec.lines) rawLines.push({ section: sec.header, line: l.line, text: l.text });
  }

  const r = StateDocument.safeParse(doc);
  if (!r.success) {
    for (const i of r.error.issues)
      issues.push({ field: i.path.join("."), message: i.message, type: i.code });
    return { state: StateDocument.parse({}), rawLines, dropped, issues };
  }
  return { state: r.data, rawLines, dropped, issues };
}
