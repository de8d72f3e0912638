/**
 * State document → `haproxy.cfg`, deterministically: the same document and the same node
 * settings give a byte-identical file. Every value has passed the schema in proto; here
 * each one is written as exactly one word of its line (quoted when needed), so nothing can
 * start a new line, a comment or a new directive. The renderer also records, for every
 * line, which entity of the document produced it, so haproxy's `[file:line]` messages can
 * be mapped back to the document (hints).
 *
 * It adds what the agent itself needs: master-worker, the admin socket (with
 * `expose-fd listeners` for seamless reloads), `server-state-file` in `global` and
 * `load-server-state-from-file global` in every `defaults`.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  type Acl,
  type Backend,
  type Bind,
  type Frontend,
  hasControlChar,
  type Listen,
  type Rule,
  type Server,
  type StateDocument,
  type TcpRule,
} from "@edgeplane/proto";

/** Node-local settings that shape the rendered file. */
export interface RenderOptions {
  /** Runtime directory: admin socket and server-state file live here. */
  runDir: string;
  /** Where map files are written (content-addressed names). */
  mapDir: string;
  /** Where managed certificates live: `<certDir>/<ref>.pem`, CAs under `ca/`, CRLs under `crl/`. */
  certDir: string;
  /** Added to every bind port (several nodes of one cluster on one host, e.g. tests). */
  portOffset: number;
  /** Add `noreuseport` to global (a port collision becomes an error instead of silent sharing). */
  noreuseport: boolean;
  /**
   * Issue 7: the agent's own syslog listener (`127.0.0.1:<port>`, node-specific, so the
   * neutral hash sees a placeholder). Adds a global `log` line and `log global` to every
   * `defaults` without its own `log`.
   */
  logTarget?: string;
  /**
   * Issue 7 ACME: the cluster's ACME account key thumbprint. Every HTTP frontend/listen with
   * a clear-text bind answers HTTP-01 challenges itself, statelessly
   * (`<token>.<thumbprint>`), so any node can answer any validation.
   */
  acmeThumbprint?: string;
}

/** The document entity a rendered line came from. */
export interface Entity {
  kind: string;
  name: string;
  /** Dotted path of the entity in the document, e.g. `backends.2.servers.0`. */
  field: string;
}

export interface MapFile {
  name: string;
  path: string;
  content: string;
}

export interface Rendered {
  cfg: string;
  /** `entities[i]` is the entity of line `i + 1`. */
  entities: Array<Entity | undefined>;
  maps: MapFile[];
  /** SHA-256 of `cfg` (hex). */
  hash: string;
  /**
   * SHA-256 of the node-neutral form of `cfg`: bind ports without the node's port offset,
   * no `noreuseport`, and the node's directories (run, maps, certs) as placeholders. Two
   * nodes rendering the same document with the same renderer get the same value, so a
   * node can tell that the file it is about to load is the one the committing agent
   * checked with `haproxy -c` (see `node.ts`).
   */
  neutralHash: string;
}

/** A word that needs no quoting. */
const BARE = /^[A-Za-z0-9_.:/%+=,@?&*[\]()!<>~^{}|;-]+$/;

/** One argument as exactly one HAProxy word. */
export function quoteArg(s: string): string {
  if (hasControlChar(s)) throw new Error("control character in a configuration argument");
  if (BARE.test(s)) return s;
  if (!s.includes("'")) return `'${s}'`;
  return `"${s.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

function mapFileName(name: string, content: string): string {
  return `${name}-${createHash("sha256").update(content).digest("hex").slice(0, 12)}.map`;
}

export function runtimePaths(runDir: string) {
  return {
    adminSocket: join(runDir, "admin.sock"),
    stateFile: join(runDir, "server-state"),
  };
}

const TIMEOUT_KEYS: Array<[string, string]> = [
  ["connect", "connect"],
  ["client", "client"],
  ["server", "server"],
  ["http_request", "http-request"],
  ["http_keep_alive", "http-keep-alive"],
  ["queue", "queue"],
  ["tunnel", "tunnel"],
  ["client_fin", "client-fin"],
  ["server_fin", "server-fin"],
  ["check", "check"],
  ["tarpit", "tarpit"],
];

export function render(doc: StateDocument, opts: RenderOptions): Rendered {
  const lines: string[] = [];
  const entities: Array<Entity | undefined> = [];
  const maps: MapFile[] = [];
  const mapPaths = new Map<string, string>();
  for (const m of doc.maps) {
    const content = m.entries.map((e) => (e.value === "" ? e.key : `${e.key} ${e.value}`)).join("\n");
    const text = content.length > 0 ? `${content}\n` : "";
    const path = join(opts.mapDir, mapFileName(m.name, text));
    for (const p of [path, opts.certDir, opts.runDir]) {
      if (!BARE.test(p)) throw new Error(`node path is not a plain word: ${p}`);
    }
    mapPaths.set(m.name, path);
    maps.push({ name: m.name, path, content: text });
  }
  /** Replace `@name` map references (already checked to exist) by their file path. */
  const maps$ = (s: string) =>
    s
      .replace(
        /\b(map(?:_[a-z]+)*)\(@([A-Za-z0-9_.:-]+)/g,
        (_m, conv: string, name: string) => `${conv}(${mapPaths.get(name) ?? name}`,
      )
      .replace(
        /^(set-map|del-map|add-acl|del-acl)\(@([A-Za-z0-9_.:-]+)\)$/,
        (_m, a: string, name: string) => `${a}(${mapPaths.get(name) ?? name})`,
      );

  /** Node-neutral text of the lines that carry a node setting (index → text; null = no line). */
  const neutralLines = new Map<number, string | null>();
  let current: Entity | undefined;
  const emit = (text: string, e: Entity | undefined = current) => {
    lines.push(text);
    entities.push(e);
  };
  // The words that are set, space-separated, indented (a loop: this runs for every line).
  const line = (words: Array<string | undefined | false>, e?: Entity) => {
    let text = "   ";
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if (typeof w === "string" && w.length > 0) text += ` ${w}`;
    }
    emit(text, e ?? current);
  };
  const section = (header: string, e: Entity) => {
    current = e;
    emit("");
    emit(header, e);
  };
  const dur = (v: number | string) => String(v);
  const cond = (r: { cond?: string | undefined; cond_test?: string | undefined }) =>
    r.cond && r.cond_test ? [r.cond, maps$(r.cond_test)] : [];

  emit("# Generated by the edgeplane haproxy-agent from the cluster state document. Do not edit:");
  emit("# changes are overwritten at the next apply. Use the API (PUT …/state) instead.");

  // ---- global
  const g = doc.global;
  const rt = runtimePaths(opts.runDir);
  section("global", { kind: "global", name: "global", field: "global" });
  line(["master-worker"]);
  line(["stats", "socket", rt.adminSocket, "mode", "600", "level", "admin", "expose-fd", "listeners"]);
  line(["server-state-file", rt.stateFile]);
  if (opts.logTarget) {
    // Issue 7: logs to the agent (parsed and published as live logs).
    line(["log", opts.logTarget, "len", "8192", "local0", "info"]);
    neutralLines.set(lines.length - 1, "    log <agent>");
  }
  if (opts.noreuseport) {
    line(["noreuseport"]);
    neutralLines.set(lines.length - 1, null);
  }
  if (g.maxconn !== undefined)
    line(["maxconn", String(g.maxconn)], { kind: "global", name: "maxconn", field: "global.maxconn" });
  if (g.nbthread !== undefined)
    line(["nbthread", String(g.nbthread)], { kind: "global", name: "nbthread", field: "global.nbthread" });
  for (const k of Object.keys(g.tune).sort()) {
    line([`tune.${k}`, String(g.tune[k])], { kind: "global", name: `tune.${k}`, field: `global.tune.${k}` });
  }
  g.log.forEach((l, i) => {
    line(
      [
        "log",
        l.address,
        l.len !== undefined && `len ${l.len}`,
        l.format && `format ${l.format}`,
        l.facility,
        l.level,
        l.level && l.min_level,
      ],
      { kind: "log", name: l.address, field: `global.log.${i}` },
    );
  });
  if (g.log_send_hostname) line(["log-send-hostname", g.log_send_hostname]);
  const gs: Array<[string, string | undefined]> = [
    ["ssl-default-bind-ciphers", g.ssl_default_bind_ciphers],
    ["ssl-default-bind-ciphersuites", g.ssl_default_bind_ciphersuites],
    ["ssl-default-bind-curves", g.ssl_default_bind_curves],
    ["ssl-default-bind-sigalgs", g.ssl_default_bind_sigalgs],
    ["ssl-default-server-ciphers", g.ssl_default_server_ciphers],
    ["ssl-default-server-ciphersuites", g.ssl_default_server_ciphersuites],
  ];
  for (const [k, v] of gs) {
    if (v) line([k, v], { kind: "global", name: k, field: `global.${k.replaceAll("-", "_")}` });
  }
  if (g.ssl_default_bind_options.length > 0)
    line(["ssl-default-bind-options", ...g.ssl_default_bind_options]);
  if (g.ssl_default_server_options.length > 0)
    line(["ssl-default-server-options", ...g.ssl_default_server_options]);
  if (g.ssl_dh_param_file) line(["ssl-dh-param-file", join(opts.certDir, `${g.ssl_dh_param_file}.pem`)]);
  if (g.hard_stop_after !== undefined) line(["hard-stop-after", dur(g.hard_stop_after)]);
  if (g.stats_timeout !== undefined) line(["stats", "timeout", dur(g.stats_timeout)]);
  raw(doc.advanced?.global ?? [], "global", "advanced.global");
  // HAProxy 2.6 loads the whole system CA store (~150 files, 20–30 ms) at every start,
  // reload and `haproxy -c`, only for its internal httpclient, which only Lua can use.
  // Without Lua (it can only come from `advanced`), verification settings of that client
  // are moot: skip the load. Last in `global` so a re-import renders byte-identically.
  if (!(doc.advanced?.global ?? []).some((l) => /^\s*(lua-|httpclient\.)/.test(l)))
    line(["httpclient.ssl.verify", "none"]);

  function raw(list: string[], name: string, field: string) {
    list.forEach((l, i) => {
      emit(`    ${l.trim()}`, { kind: "advanced", name, field: `${field}.${i}` });
    });
  }

  // ---- defaults
  if (doc.defaults.length === 0) {
    section("defaults", { kind: "defaults", name: "(agent)", field: "defaults" });
    line(["load-server-state-from-file", "global"]);
    if (opts.logTarget) line(["log", "global"]); // issue 7: the agent's log target
  }
  doc.defaults.forEach((d, i) => {
    const e = { kind: "defaults", name: d.name ?? `#${i}`, field: `defaults.${i}` };
    section(d.name ? `defaults ${d.name}` : "defaults", e);
    if (d.mode) line(["mode", d.mode]);
    if (d.log) line(["log", d.log]);
    else if (opts.logTarget) line(["log", "global"]); // issue 7: the agent's log target
    if (d.log_format) line(["log-format", quoteArg(d.log_format)]);
    if (d.maxconn !== undefined) line(["maxconn", String(d.maxconn)]);
    if (d.retries !== undefined) line(["retries", String(d.retries)]);
    if (d.balance) line(["balance", d.balance]);
    for (const o of d.options) line(optionWords(o));
    timeouts(d.timeouts, e);
    if (d.default_server.length > 0) line(["default-server", ...d.default_server]);
    line(["load-server-state-from-file", "global"]);
    raw(doc.advanced?.defaults[d.name ?? `#${i}`] ?? [], e.name, `advanced.defaults.${e.name}`);
  });

  function timeouts(t: Record<string, number | string | undefined>, e: Entity) {
    for (const [k, kw] of TIMEOUT_KEYS) {
      const v = t[k];
      if (v !== undefined) line(["timeout", kw, dur(v)], { ...e, field: `${e.field}.timeouts.${k}` });
    }
  }

  // ---- resolvers, userlists, raw sections
  doc.resolvers.forEach((r, i) => {
    const e = { kind: "resolvers", name: r.name, field: `resolvers.${i}` };
    section(`resolvers ${r.name}`, e);
    r.nameservers.forEach((n, j) => {
      line(["nameserver", n.name, `${hostPort(n.address, n.port)}`], {
        ...e,
        field: `${e.field}.nameservers.${j}`,
      });
    });
    if (r.resolve_retries !== undefined) line(["resolve_retries", String(r.resolve_retries)]);
    if (r.timeouts.resolve !== undefined) line(["timeout", "resolve", dur(r.timeouts.resolve)]);
    if (r.timeouts.retry !== undefined) line(["timeout", "retry", dur(r.timeouts.retry)]);
    for (const k of Object.keys(r.hold).sort())
      line(["hold", k, dur(r.hold[k as keyof typeof r.hold] as number | string)]);
    if (r.accepted_payload_size !== undefined)
      line(["accepted_payload_size", String(r.accepted_payload_size)]);
  });
  doc.userlists.forEach((u, i) => {
    const e = { kind: "userlist", name: u.name, field: `userlists.${i}` };
    section(`userlist ${u.name}`, e);
    for (const gname of u.groups) line(["group", gname]);
    u.users.forEach((usr, j) => {
      line(
        [
          "user",
          usr.name,
          usr.password
            ? `password ${usr.password}`
            : usr.insecure_password
              ? `insecure-password ${quoteArg(usr.insecure_password)}`
              : undefined,
          usr.groups.length > 0 && `groups ${usr.groups.join(",")}`,
        ],
        { kind: "user", name: `${u.name}/${usr.name}`, field: `${e.field}.users.${j}` },
      );
    });
  });
  (doc.advanced?.sections ?? []).forEach((s, i) => {
    const e = { kind: s.type, name: s.name, field: `advanced.sections.${i}` };
    section(`${s.type} ${s.name}`, e);
    s.lines.forEach((l, j) => {
      emit(`    ${l.trim()}`, { ...e, field: `${e.field}.lines.${j}` });
    });
  });

  // ---- proxies
  type Any = Partial<Frontend & Backend> & { name: string };
  /**
   * `option idle-close-on-response` (in 2.6.12 via a backport) for HTTP frontends and
   * listens: at a reload the old worker otherwise closes idle keep-alive connections at
   * once, racing clients that just sent a request on them (~1 failed request per reload
   * per busy client). With it, the old worker answers the next request on each idle
   * connection with `Connection: close`, so clients move to the new worker without an
   * error; old workers then live until their idle connections are used or time out
   * (`timeout http-keep-alive` / `client`; bound them with `global.hard_stop_after`).
   * A document that sets the option either way itself (proxy or its defaults) wins.
   */
  const isHttp = (p: Any) => {
    const d = p.defaults ? doc.defaults.find((x) => x.name === p.defaults) : doc.defaults.at(-1);
    return (p.mode ?? d?.mode ?? "tcp") === "http";
  };
  const keepIdleOnReload = (p: Any) => {
    const d = p.defaults ? doc.defaults.find((x) => x.name === p.defaults) : doc.defaults.at(-1);
    if (!isHttp(p)) return false;
    const mentions = (o: string) => /^(no )?idle-close-on-response$/.test(o);
    return !(p.options ?? []).some(mentions) && !(d?.options ?? []).some(mentions);
  };
  const proxy = (kind: "frontend" | "backend" | "listen", p: Any, field: string, shared: Acl[]) => {
    const e: Entity = { kind, name: p.name, field };
    section(p.defaults ? `${kind} ${p.name} from ${p.defaults}` : `${kind} ${p.name}`, e);
    if (p.mode) line(["mode", p.mode]);
    (p.binds ?? []).forEach((b, i) => {
      bind(b, {
        kind: "bind",
        name: `${p.name}/${bindLabel(b, opts.portOffset)}`,
        field: `${field}.binds.${i}`,
      });
    });
    if (p.maxconn !== undefined) line(["maxconn", String(p.maxconn)]);
    if (p.balance) {
      const { algorithm, args } = p.balance;
      if ((algorithm === "hdr" || algorithm === "rdp-cookie") && args.length > 0)
        line(["balance", `${algorithm}(${args[0]})`, ...args.slice(1)]);
      else line(["balance", algorithm, ...args]);
    }
    if (p.log) line(["log", p.log]);
    if (p.log_format) line(["log-format", quoteArg(p.log_format)]);
    if (kind !== "backend" && keepIdleOnReload(p)) line(["option", "idle-close-on-response"]);
    for (const o of p.options ?? []) line(optionWords(o));
    if (p.retries !== undefined) line(["retries", String(p.retries)]);
    timeouts(p.timeouts ?? {}, e);
    if (p.http_check) {
      const h = p.http_check;
      const ce = { ...e, field: `${field}.http_check` };
      line(["option", "httpchk"], ce);
      line(
        [
          "http-check",
          "send",
          "meth",
          h.method,
          "uri",
          h.uri,
          h.version && `ver ${h.version}`,
          h.host && h.version === "HTTP/1.1" && `hdr Host ${h.host}`,
        ],
        ce,
      );
      if (h.expect) line(["http-check", "expect", h.expect.negate && "!", h.expect.type, h.expect.value], ce);
    }
    if (p.stick_table) {
      const t = p.stick_table;
      line(
        [
          "stick-table",
          "type",
          t.type,
          t.len !== undefined && `len ${t.len}`,
          "size",
          String(t.size),
          t.expire !== undefined && `expire ${dur(t.expire)}`,
          t.store.length > 0 && `store ${t.store.join(",")}`,
        ],
        { ...e, field: `${field}.stick_table` },
      );
    }
    if (p.cookie)
      line(["cookie", p.cookie.name, p.cookie.mode, ...p.cookie.options], { ...e, field: `${field}.cookie` });
    for (const c of p.captures ?? []) line(["capture", c.type, "header", c.header, "len", String(c.length)]);
    const acl = (a: Acl, f: string, owner: string) => {
      const values = a.values.map((v) => quoteArg(v));
      const dashdash = a.values.some((v) => v.startsWith("-"));
      line(
        [
          "acl",
          a.name,
          maps$(a.criterion),
          ...a.flags,
          a.match && `-m ${a.match}`,
          dashdash && "--",
          ...values,
        ],
        { kind: "acl", name: `${owner}${a.name}`, field: f },
      );
    };
    shared.forEach((a, i) => {
      acl(a, `acls.${i}`, "");
    });
    (p.acls ?? []).forEach((a, i) => {
      acl(a, `${field}.acls.${i}`, `${p.name}/`);
    });
    (p.tcp_request ?? []).forEach((r, i) => {
      tcpRule(r, { kind: "tcp_request", name: `${p.name}#${i}`, field: `${field}.tcp_request.${i}` });
    });
    if (opts.acmeThumbprint && kind !== "backend" && isHttp(p) && (p.binds ?? []).some((b) => !b.tls))
      line([
        "http-request return status 200 content-type text/plain",
        `lf-string %[path,field(4,/)].${opts.acmeThumbprint}`,
        "if { path_reg ^/[.]well-known/acme-challenge/[A-Za-z0-9_-]+$ }",
      ]);
    (p.http_request ?? []).forEach((r, i) => {
      rule("http-request", r, {
        kind: "http_request",
        name: `${p.name}#${i}`,
        field: `${field}.http_request.${i}`,
      });
    });
    (p.http_response ?? []).forEach((r, i) => {
      rule("http-response", r, {
        kind: "http_response",
        name: `${p.name}#${i}`,
        field: `${field}.http_response.${i}`,
      });
    });
    (p.stick ?? []).forEach((s, i) => {
      line(["stick", s.type, maps$(s.pattern), s.table && `table ${s.table}`, ...cond(s)], {
        kind: "stick",
        name: `${p.name}#${i}`,
        field: `${field}.stick.${i}`,
      });
    });
    (p.use_backends ?? []).forEach((u, i) => {
      line(["use_backend", u.backend, ...cond(u)], {
        kind: "use_backend",
        name: `${p.name}->${u.backend}`,
        field: `${field}.use_backends.${i}`,
      });
    });
    if (p.default_backend)
      line(["default_backend", p.default_backend], {
        kind: "default_backend",
        name: `${p.name}->${p.default_backend}`,
        field: `${field}.default_backend`,
      });
    if (p.default_server && p.default_server.length > 0) line(["default-server", ...p.default_server]);
    (p.servers ?? []).forEach((s, i) => {
      server(s, { kind: "server", name: `${p.name}/${s.name}`, field: `${field}.servers.${i}` });
    });
    const adv = doc.advanced?.[`${kind}s` as "frontends" | "backends" | "listens"]?.[p.name] ?? [];
    raw(adv, p.name, `advanced.${kind}s.${p.name}`);
  };

  function rule(kw: string, r: Rule, e: Entity) {
    line([kw, maps$(r.action), ...r.args.map((a) => quoteArg(maps$(a))), ...cond(r)], e);
  }
  function tcpRule(r: TcpRule, e: Entity) {
    if (r.stage === "inspect-delay")
      line(["tcp-request", "inspect-delay", ...r.args.map((a) => quoteArg(a))], e);
    else
      line(
        [
          "tcp-request",
          r.stage,
          r.action && maps$(r.action),
          ...r.args.map((a) => quoteArg(maps$(a))),
          ...cond(r),
        ],
        e,
      );
  }
  function bind(b: Bind, e: Entity) {
    const words: Array<string | false | undefined> = ["bind", bindAddr(b, opts.portOffset)];
    if (b.tls) {
      const t = b.tls;
      words.push("ssl");
      for (const c of t.certificates) words.push("crt", join(opts.certDir, `${c}.pem`));
      if (t.alpn.length > 0) words.push("alpn", t.alpn.join(","));
      if (t.ssl_min_ver) words.push("ssl-min-ver", t.ssl_min_ver);
      if (t.ssl_max_ver) words.push("ssl-max-ver", t.ssl_max_ver);
      if (t.ciphers) words.push("ciphers", t.ciphers);
      if (t.ciphersuites) words.push("ciphersuites", t.ciphersuites);
      if (t.curves) words.push("curves", t.curves);
      if (t.client_ca) words.push("ca-file", join(opts.certDir, "ca", `${t.client_ca}.pem`));
      if (t.client_crl) words.push("crl-file", join(opts.certDir, "crl", `${t.client_crl}.pem`));
      if (t.verify) words.push("verify", t.verify);
    }
    if (b.accept_proxy) words.push("accept-proxy");
    if (b.transparent) words.push("transparent");
    if (b.v4v6) words.push("v4v6");
    if (b.maxconn !== undefined) words.push("maxconn", String(b.maxconn));
    if (b.name) words.push("name", b.name);
    line(words, e);
    if (opts.portOffset !== 0) {
      words[1] = bindAddr(b, 0);
      neutralLines.set(
        lines.length - 1,
        `    ${words.filter((w): w is string => typeof w === "string" && w.length > 0).join(" ")}`,
      );
    }
  }
  function server(s: Server, e: Entity) {
    line(
      [
        "server",
        s.name,
        s.port !== undefined
          ? hostPort(s.address, s.port)
          : s.address.includes(":")
            ? `ipv6@${s.address}`
            : s.address,
        s.check && "check",
        s.inter !== undefined && `inter ${dur(s.inter)}`,
        s.rise !== undefined && `rise ${s.rise}`,
        s.fall !== undefined && `fall ${s.fall}`,
        s.weight !== undefined && `weight ${s.weight}`,
        s.backup && "backup",
        s.disabled && "disabled",
        s.maxconn !== undefined && `maxconn ${s.maxconn}`,
        s.maxqueue !== undefined && `maxqueue ${s.maxqueue}`,
        s.ssl && "ssl",
        s.verify && `verify ${s.verify}`,
        s.ca && `ca-file ${join(opts.certDir, "ca", `${s.ca}.pem`)}`,
        s.sni && `sni ${maps$(s.sni)}`,
        s.alpn.length > 0 && `alpn ${s.alpn.join(",")}`,
        s.send_proxy === "v1" && "send-proxy",
        s.send_proxy === "v2" && "send-proxy-v2",
        s.cookie && `cookie ${s.cookie}`,
        s.resolvers && `resolvers ${s.resolvers}`,
        s.init_addr && `init-addr ${s.init_addr}`,
      ],
      e,
    );
  }

  doc.frontends.forEach((f, i) => {
    proxy("frontend", f, `frontends.${i}`, doc.acls);
  });
  doc.listens.forEach((l: Listen, i) => {
    proxy("listen", l, `listens.${i}`, doc.acls);
  });
  doc.backends.forEach((b, i) => {
    proxy("backend", b, `backends.${i}`, []);
  });

  const cfg = `${lines.join("\n")}\n`;
  let neutral = cfg;
  if (neutralLines.size > 0) {
    const kept: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const n = neutralLines.get(i);
      if (n === undefined) kept.push(lines[i] as string);
      else if (n !== null) kept.push(n);
    }
    neutral = `${kept.join("\n")}\n`;
  }
  const dirs: Array<[string, string]> = [
    [opts.mapDir, "<maps>"],
    [opts.certDir, "<certs>"],
    [opts.runDir, "<run>"],
  ];
  // Longest first: the map and cert directories usually live inside the run directory.
  for (const [dir, tag] of dirs.sort((a, b) => b[0].length - a[0].length))
    if (dir.length > 1) neutral = neutral.replaceAll(dir, tag);
  return {
    cfg,
    entities,
    maps,
    hash: createHash("sha256").update(cfg).digest("hex"),
    neutralHash: createHash("sha256").update(neutral).digest("hex"),
  };
}

/** `httplog` → `option httplog`; `no httplog` → `no option httplog`. */
function optionWords(o: string): string[] {
  return o.startsWith("no ") ? ["no", "option", o.slice(3)] : ["option", o];
}

function hostPort(addr: string, port: number): string {
  return addr.includes(":") ? `ipv6@${addr}:${port}` : `${addr}:${port}`;
}
function bindAddr(b: Bind, offset: number): string {
  const port = b.port + offset;
  if (b.address === "*" || b.address === "") return `:${port}`;
  return hostPort(b.address, port);
}
function bindLabel(b: Bind, offset: number): string {
  return bindAddr(b, offset);
}
