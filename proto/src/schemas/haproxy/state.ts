/**
 * The HAProxy state document: the desired configuration of one cluster, as data. It is
 * stored per cluster in NATS KV (its revision is the KV revision), rendered
 * deterministically to `haproxy.cfg` by the agents, and checked with `haproxy -c` before
 * it is committed. Every name, address, value and path is validated so that nothing can
 * leave its line: see `primitives.ts`. Cross-references (a `use_backend` to a missing
 * backend, an unknown ACL in a condition, a map that is not declared) are checked by
 * `crossCheck` and reported as 422 field issues.
 *
 * Raw directives are only possible through `advanced`, which needs the `haproxy:raw`
 * permission to change.
 */
import { z } from "zod";
import type { FieldIssue } from "../../errors.ts";
import {
  Arg,
  argSchema,
  BindAddress,
  Duration,
  FetchExpr,
  FileRef,
  HostAddress,
  hasControlChar,
  identSchema,
  Port,
  Size,
  wordSchema,
} from "./primitives.ts";

export const STATE_SCHEMA_VERSION = 1;

const Ident = (what: string) => identSchema(what);

// ---------------------------------------------------------------- common parts

export const ProxyMode = z.enum(["http", "tcp"]).describe("Proxy mode: `http` (layer 7) or `tcp` (layer 4).");

/** Timeouts by name (`timeout <name> <value>`). */
export const Timeouts = z
  .strictObject({
    connect: Duration.optional().describe("`timeout connect`: time to establish a connection to a server."),
    client: Duration.optional().describe("`timeout client`: client inactivity."),
    server: Duration.optional().describe("`timeout server`: server inactivity."),
    http_request: Duration.optional().describe("`timeout http-request`: time to receive a complete request."),
    http_keep_alive: Duration.optional().describe("`timeout http-keep-alive`: idle time between requests."),
    queue: Duration.optional().describe("`timeout queue`: time a request may wait for a server slot."),
    tunnel: Duration.optional().describe("`timeout tunnel`: inactivity of tunnels (WebSocket, CONNECT)."),
    client_fin: Duration.optional().describe("`timeout client-fin`: half-closed client connections."),
    server_fin: Duration.optional().describe("`timeout server-fin`: half-closed server connections."),
    check: Duration.optional().describe("`timeout check`: additional read timeout of health checks."),
    tarpit: Duration.optional().describe("`timeout tarpit`: how long tarpitted connections are held."),
  })
  .describe("Timeouts; each becomes one `timeout <name> <value>` line.");

/**
 * An `option` line: the option keyword (optionally `no `-prefixed) followed by bare words,
 * e.g. `httplog`, `forwardfor except 127.0.0.0/8`, `no log-health-checks`.
 */
export const OptionLine = z
  .string()
  .max(512)
  .regex(
    /^(no )?[a-z][a-z0-9-]*( [A-Za-z0-9_.:/%+=,@?&*[\]()!<>~^{}|;-]+)*$/,
    "expected an option name followed by words separated by single spaces (no quotes, '\\', '#', '$')",
  )
  .refine(
    (v) => !/^(no )?external-check\b/.test(v),
    "external-check runs programs: use `advanced` (haproxy:raw)",
  )
  .describe("One `option` line without the keyword, e.g. `httplog` or `forwardfor except 127.0.0.0/8`.");

const Options = z.array(OptionLine).max(100).describe("`option` lines, in order.");

/** Condition of a rule, like HAProxy's Data Plane API: `cond` + `cond_test`. */
const CondFields = {
  cond: z.enum(["if", "unless"]).optional().describe("Condition keyword; absent = unconditional."),
  cond_test: z
    .string()
    .max(2048)
    .regex(
      /^[A-Za-z0-9_.:/%+=,@?&*[\]()!<>~^{}|;-]+( [A-Za-z0-9_.:/%+=,@?&*[\]()!<>~^{}|;-]+)*$/,
      "expected ACL names, '!', '||', 'or' and anonymous ACLs '{ fetch value }' separated by single spaces",
    )
    .optional()
    .describe("Condition: named ACLs (`!` negates), `||`/`or`, anonymous ACLs `{ fetch args }`."),
};

function withCond<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject({ ...shape, ...CondFields }).superRefine((v, ctx) => {
    const r = v as { cond?: string; cond_test?: string };
    if ((r.cond === undefined) !== (r.cond_test === undefined))
      ctx.addIssue({ code: "custom", message: "cond and cond_test go together", path: ["cond_test"] });
  });
}

/** Action keywords allowed in structured rules. Anything else needs `advanced`. */
const RULE_ACTION_RE =
  /^(allow|deny|reject|tarpit|auth|redirect|return|set-header|add-header|del-header|replace-header|replace-value|set-path|set-pathq|set-query|set-uri|set-method|set-status|replace-path|replace-pathq|replace-uri|set-var|set-var-fmt|unset-var|set-log-level|set-nice|set-mark|set-tos|set-src|set-src-port|set-dst|set-dst-port|set-timeout|capture|track-sc[0-2]|sc-inc-gpc[01]?|sc-set-gpt0|sc-inc-gpc|sc-add-gpc|silent-drop|early-hint|normalize-uri|wait-for-handshake|wait-for-body|use-service|strict-mode|disable-l7-retry|cache-use|cache-store|do-resolve|set-bandwidth-limit|set-priority-class|set-priority-offset|accept|content|connection|session|inspect-delay|expect-proxy|expect-netscaler-cip|close|send-spoe-group|set-map|del-map|add-acl|del-acl|set-retries|switch-mode|del-map|set-fc-mark|set-fc-tos)(\([A-Za-z0-9_.,@:-]*\))?$/;

export const RuleAction = z
  .string()
  .max(128)
  .regex(RULE_ACTION_RE, "not an allowed rule action (use `advanced` for others)")
  .describe("Rule action keyword, e.g. `set-header`, `deny`, `redirect`, `set-var(txn.x)`, `track-sc0`.");

/** `http-request` / `http-response` / `tcp-request` / `tcp-response` rule. */
export const Rule = withCond({
  action: RuleAction,
  args: z
    .array(argSchema("rule argument"))
    .max(64)
    .default([])
    .describe("Arguments after the action, each one word once rendered (quoted as needed)."),
}).describe("One rule: `<action> <args…> [if|unless <cond_test>]`.");
export type Rule = z.infer<typeof Rule>;

/** `tcp-request` rules also name their stage: connection, session or content (or inspect-delay). */
export const TcpRule = withCond({
  stage: z
    .enum(["connection", "session", "content", "inspect-delay"])
    .describe("Stage: `connection`, `session`, `content`, or `inspect-delay` (whose args are a duration)."),
  action: RuleAction.optional().describe("Action (absent for `inspect-delay`)."),
  args: z.array(argSchema("rule argument")).max(64).default([]).describe("Arguments after the action."),
}).describe("One `tcp-request` / `tcp-response` rule.");
export type TcpRule = z.infer<typeof TcpRule>;

/** A `use_backend` / `use-server` switching rule. */
export const UseBackend = withCond({
  backend: Ident("backend name").describe("Target backend (must exist in `backends` or `listens`)."),
}).describe("`use_backend <backend> [if|unless <cond_test>]`.");

/** An ACL: `acl <name> <criterion> [flags] [-m match] <values…>`. */
export const Acl = z
  .strictObject({
    name: Ident("ACL name"),
    criterion: FetchExpr.describe(
      "Sample fetch the values are matched against, e.g. `hdr(host)`, `path_beg`, `src`.",
    ),
    flags: z
      .array(z.enum(["-i", "-n"]))
      .max(2)
      .default([])
      .describe("Flags: `-i` case-insensitive, `-n` no DNS resolution."),
    match: z
      .enum(["str", "beg", "end", "sub", "dir", "dom", "reg", "bin", "int", "ip", "len", "found", "bool"])
      .optional()
      .describe("Match method (`-m`)."),
    values: z
      .array(argSchema("ACL value"))
      .max(10_000)
      .default([])
      .describe("Patterns; any of them matches."),
  })
  .describe("A named ACL.");
export type Acl = z.infer<typeof Acl>;

const Captures = z
  .array(
    z.strictObject({
      type: z.enum(["request", "response"]).describe("Capture a request or a response header."),
      header: wordSchema("header name", 128).describe("Header name."),
      length: z.number().int().min(1).max(65536).describe("Maximum length captured."),
    }),
  )
  .max(32)
  .describe("`capture request|response header <name> len <n>` lines.");

// ---------------------------------------------------------------- global

export const LogTarget = z
  .strictObject({
    address: z
      .string()
      .max(300)
      .regex(
        /^(stdout|stderr|(udp@|tcp@)?[A-Za-z0-9.:[\]-]+(:\d{1,5})?|\/dev\/log|ring@[A-Za-z0-9_.-]+)$/,
        "expected stdout, stderr, /dev/log, ring@name, or host[:port] (optionally udp@/tcp@)",
      )
      .describe("Target: `stdout`, `stderr`, `/dev/log`, `ring@<name>`, or `<host>[:port]`."),
    format: z
      .enum(["rfc3164", "rfc5424", "short", "raw", "iso", "local", "timed", "priority"])
      .optional()
      .describe("Log line format."),
    len: z.number().int().min(80).max(65535).optional().describe("Maximum line length."),
    facility: z
      .enum([
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "auth2",
        "ftp",
        "ntp",
        "audit",
        "alert",
        "cron2",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
      ])
      .describe("Syslog facility."),
    level: z
      .enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"])
      .optional()
      .describe("Maximum level sent."),
    min_level: z
      .enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"])
      .optional()
      .describe("Minimum level sent."),
  })
  .describe("A `log` target.");

const TUNE_KEY_RE = /^[a-z0-9]+([.-][a-z0-9]+)*$/;

export const Global = z
  .strictObject({
    maxconn: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .optional()
      .describe("`maxconn`: process-wide connection limit."),
    nbthread: z.number().int().min(1).max(64).optional().describe("`nbthread`: worker threads."),
    tune: z
      .record(
        z.string().regex(TUNE_KEY_RE, "tune key: lower-case words joined by '.' or '-'").max(64),
        z.union([z.number(), wordSchema("tune value", 128)]),
      )
      .default({})
      .describe('`tune.<key> <value>` lines, e.g. `{"bufsize": 32768, "ssl.default-dh-param": 2048}`.'),
    log: z.array(LogTarget).max(8).default([]).describe("`log` targets."),
    log_send_hostname: wordSchema("hostname", 253).optional().describe("`log-send-hostname` value."),
    ssl_default_bind_ciphers: wordSchema("cipher list", 2048)
      .optional()
      .describe("`ssl-default-bind-ciphers` (TLS ≤ 1.2)."),
    ssl_default_bind_ciphersuites: wordSchema("ciphersuite list", 1024)
      .optional()
      .describe("`ssl-default-bind-ciphersuites` (TLS 1.3)."),
    ssl_default_bind_curves: wordSchema("curve list", 512).optional().describe("`ssl-default-bind-curves`."),
    ssl_default_bind_sigalgs: wordSchema("sigalg list", 1024)
      .optional()
      .describe("`ssl-default-bind-sigalgs`."),
    ssl_default_bind_options: z
      .array(wordSchema("ssl option", 64))
      .max(16)
      .default([])
      .describe("`ssl-default-bind-options`, e.g. `ssl-min-ver TLSv1.2`, `no-tls-tickets` (one word each)."),
    ssl_default_server_ciphers: wordSchema("cipher list", 2048)
      .optional()
      .describe("`ssl-default-server-ciphers`."),
    ssl_default_server_ciphersuites: wordSchema("ciphersuite list", 1024)
      .optional()
      .describe("`ssl-default-server-ciphersuites`."),
    ssl_default_server_options: z
      .array(wordSchema("ssl option", 64))
      .max(16)
      .default([])
      .describe("`ssl-default-server-options`."),
    ssl_dh_param_file: FileRef.optional().describe(
      "`ssl-dh-param-file`: reference of a managed DH parameter file.",
    ),
    hard_stop_after: Duration.optional().describe(
      "`hard-stop-after`: how long an old worker may keep serving after a reload.",
    ),
    stats_timeout: Duration.optional().describe("`stats timeout` of the admin socket."),
  })
  .describe(
    "The `global` section (the agent adds master-worker, admin socket and server-state-file itself).",
  );

// ---------------------------------------------------------------- defaults

export const Defaults = z
  .strictObject({
    name: Ident("defaults name").optional().describe("Name (for `from`); absent = unnamed."),
    mode: ProxyMode.optional(),
    balance: z
      .string()
      .max(128)
      .regex(/^[a-z_-]+(\([a-z0-9_.-]*\))?( [A-Za-z0-9_.-]+)*$/)
      .optional()
      .describe("`balance` algorithm and args."),
    maxconn: z.number().int().min(1).max(10_000_000).optional().describe("`maxconn` per frontend."),
    retries: z.number().int().min(0).max(100).optional().describe("`retries` on connection failure."),
    log: z.enum(["global"]).optional().describe("`log global`."),
    log_format: argSchema("log-format").optional().describe("`log-format` string."),
    options: Options.default([]),
    timeouts: Timeouts.default({}),
    default_server: z
      .array(wordSchema("default-server word"))
      .max(64)
      .default([])
      .describe("`default-server` words."),
  })
  .describe("A `defaults` section.");

// ---------------------------------------------------------------- binds & servers

export const BindTls = z
  .strictObject({
    certificates: z.array(FileRef).min(1).max(64).describe("Certificate references (`crt`), one or more."),
    alpn: z
      .array(z.string().regex(/^[a-z0-9./-]{1,32}$/))
      .max(8)
      .default([])
      .describe('ALPN protocols offered, e.g. `["h2", "http/1.1"]`.'),
    ssl_min_ver: z
      .enum(["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"])
      .optional()
      .describe("`ssl-min-ver`."),
    ssl_max_ver: z
      .enum(["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"])
      .optional()
      .describe("`ssl-max-ver`."),
    ciphers: wordSchema("cipher list", 2048).optional().describe("`ciphers` for this bind."),
    ciphersuites: wordSchema("ciphersuite list", 1024).optional().describe("`ciphersuites` for this bind."),
    curves: wordSchema("curve list", 512).optional().describe("`curves` for this bind."),
    client_ca: FileRef.optional().describe("mTLS: trusted CA bundle reference (`ca-file`)."),
    client_crl: FileRef.optional().describe("mTLS: CRL reference (`crl-file`)."),
    verify: z
      .enum(["none", "optional", "required"])
      .optional()
      .describe("mTLS client verification (`verify`)."),
  })
  .describe("TLS termination of a bind.");

export const Bind = z
  .strictObject({
    address: BindAddress.default("*"),
    port: Port,
    tls: BindTls.optional().describe("TLS termination; absent = clear text."),
    accept_proxy: z.boolean().default(false).describe("`accept-proxy`: expect a PROXY protocol header."),
    transparent: z.boolean().default(false).describe("`transparent`."),
    v4v6: z.boolean().default(false).describe("`v4v6`: an IPv6 bind also accepts IPv4."),
    maxconn: z.number().int().min(1).max(10_000_000).optional().describe("`maxconn` of this listener."),
    name: wordSchema("bind name", 64).optional().describe("`name` of the listener (stats)."),
  })
  .describe("A `bind` line.");
export type Bind = z.infer<typeof Bind>;

export const Server = z
  .strictObject({
    name: Ident("server name"),
    address: HostAddress,
    port: Port.optional().describe("Port; absent = the client's destination port."),
    weight: z.number().int().min(0).max(256).optional().describe("`weight` (0–256)."),
    check: z.boolean().default(false).describe("`check`: health-check this server."),
    inter: Duration.optional().describe("`inter`: interval between checks."),
    rise: z.number().int().min(1).max(1000).optional().describe("`rise`: successes before up."),
    fall: z.number().int().min(1).max(1000).optional().describe("`fall`: failures before down."),
    backup: z.boolean().default(false).describe("`backup`: used only when no active server is up."),
    disabled: z.boolean().default(false).describe("`disabled`: starts in maintenance."),
    maxconn: z
      .number()
      .int()
      .min(0)
      .max(10_000_000)
      .optional()
      .describe("`maxconn`: concurrent connections."),
    maxqueue: z.number().int().min(0).max(10_000_000).optional().describe("`maxqueue`."),
    ssl: z.boolean().default(false).describe("`ssl`: TLS to the server."),
    verify: z.enum(["none", "required"]).optional().describe("`verify` of the server certificate."),
    ca: FileRef.optional().describe("`ca-file`: trusted CA bundle reference."),
    sni: FetchExpr.optional().describe("`sni` expression, e.g. `req.hdr(host)` or `str(api.example.com)`."),
    alpn: z
      .array(z.string().regex(/^[a-z0-9./-]{1,32}$/))
      .max(8)
      .default([])
      .describe("`alpn` to the server."),
    send_proxy: z.enum(["v1", "v2"]).optional().describe("`send-proxy` (v1) or `send-proxy-v2`."),
    cookie: wordSchema("cookie value", 128).optional().describe("`cookie` value for persistence."),
    resolvers: Ident("resolvers name").optional().describe("`resolvers`: resolve the address at run time."),
    init_addr: z
      .string()
      .regex(/^(last|libc|none|[0-9a-fA-F.:]+)(,(last|libc|none|[0-9a-fA-F.:]+))*$/)
      .optional()
      .describe("`init-addr` methods."),
  })
  .describe("A `server` line.");
export type Server = z.infer<typeof Server>;

// ---------------------------------------------------------------- proxies

const FrontendShape = {
  name: Ident("frontend name"),
  defaults: Ident("defaults name").optional().describe("Named defaults section to inherit from (`from`)."),
  mode: ProxyMode.optional(),
  binds: z.array(Bind).max(64).default([]).describe("Listeners."),
  maxconn: z.number().int().min(1).max(10_000_000).optional().describe("`maxconn`."),
  log: z.enum(["global"]).optional().describe("`log global`."),
  log_format: argSchema("log-format").optional().describe("`log-format` string."),
  options: Options.default([]),
  timeouts: Timeouts.default({}),
  acls: z.array(Acl).max(10_000).default([]).describe("ACLs local to this proxy."),
  http_request: z.array(Rule).max(10_000).default([]).describe("`http-request` rules, in order."),
  http_response: z.array(Rule).max(10_000).default([]).describe("`http-response` rules, in order."),
  tcp_request: z.array(TcpRule).max(10_000).default([]).describe("`tcp-request` rules, in order."),
  captures: Captures.default([]),
  use_backends: z.array(UseBackend).max(10_000).default([]).describe("`use_backend` rules, in order."),
  default_backend: Ident("backend name").optional().describe("`default_backend` (must exist)."),
};

const BackendShape = {
  name: Ident("backend name"),
  defaults: Ident("defaults name").optional().describe("Named defaults section to inherit from (`from`)."),
  mode: ProxyMode.optional(),
  balance: z
    .strictObject({
      algorithm: z
        .enum([
          "roundrobin",
          "static-rr",
          "leastconn",
          "first",
          "source",
          "uri",
          "url_param",
          "hdr",
          "random",
          "rdp-cookie",
        ])
        .describe("Algorithm."),
      args: z
        .array(wordSchema("balance argument", 128))
        .max(8)
        .default([])
        .describe(
          'Algorithm arguments (e.g. `hdr(host)` is written algorithm `hdr`, args `["host"]`: rendered `hdr(host)`).',
        ),
    })
    .optional()
    .describe("`balance`."),
  log: z.enum(["global"]).optional().describe("`log global`."),
  options: Options.default([]),
  timeouts: Timeouts.default({}),
  retries: z.number().int().min(0).max(100).optional().describe("`retries`."),
  acls: z.array(Acl).max(10_000).default([]).describe("ACLs local to this proxy."),
  http_request: z.array(Rule).max(10_000).default([]).describe("`http-request` rules, in order."),
  http_response: z.array(Rule).max(10_000).default([]).describe("`http-response` rules, in order."),
  tcp_request: z.array(TcpRule).max(10_000).default([]).describe("`tcp-request` rules, in order."),
  http_check: z
    .strictObject({
      method: z
        .enum(["GET", "HEAD", "OPTIONS", "POST", "PUT"])
        .default("GET")
        .describe("Check request method."),
      uri: z
        .string()
        .regex(/^\/[A-Za-z0-9._~!&'()*+,;=:@%/?-]*$/, "an absolute path with URL-safe characters")
        .max(1024)
        .default("/")
        .describe("Check request URI."),
      version: z.enum(["HTTP/1.0", "HTTP/1.1"]).optional().describe("HTTP version of the check request."),
      host: z
        .string()
        .regex(/^[A-Za-z0-9.:-]{1,253}$/)
        .optional()
        .describe("`Host` header of the check (HTTP/1.1)."),
      expect: z
        .strictObject({
          type: z.enum(["status", "rstatus", "string", "rstring"]).describe("What is matched."),
          value: wordSchema("expected value", 512).describe("Status list (`200-399`), regex or string."),
          negate: z.boolean().default(false).describe("`!`: the match must fail."),
        })
        .optional()
        .describe("`http-check expect`."),
    })
    .optional()
    .describe("HTTP health check (`option httpchk` + `http-check send/expect`)."),
  stick_table: z
    .strictObject({
      type: z.enum(["ip", "ipv6", "integer", "string", "binary"]).describe("Key type."),
      len: z.number().int().min(1).max(65536).optional().describe("Key length (string/binary)."),
      size: Size.describe("Number of entries."),
      expire: Duration.optional().describe("Entry expiry."),
      store: z
        .array(wordSchema("store item", 64))
        .max(16)
        .default([])
        .describe("Stored data, e.g. `http_req_rate(10s)`, `conn_cur`."),
    })
    .optional()
    .describe("`stick-table`."),
  stick: z
    .array(
      withCond({
        type: z
          .enum(["on", "match", "store-request", "store-response"])
          .describe("`stick on|match|store-request|store-response`."),
        pattern: FetchExpr.describe("Sample expression."),
        table: Ident("table").optional().describe("Other table to use (`table <name>`)."),
      }),
    )
    .max(32)
    .default([])
    .describe("`stick` rules."),
  cookie: z
    .strictObject({
      name: wordSchema("cookie name", 128).describe("Cookie name."),
      mode: z.enum(["insert", "rewrite", "prefix"]).optional().describe("How the cookie is managed."),
      options: z
        .array(z.enum(["indirect", "nocache", "postonly", "preserve", "httponly", "secure", "dynamic"]))
        .max(8)
        .default([])
        .describe("Cookie flags."),
    })
    .optional()
    .describe("`cookie` persistence."),
  default_server: z
    .array(wordSchema("default-server word"))
    .max(64)
    .default([])
    .describe("`default-server` words (e.g. `inter 2s`, split in words)."),
  servers: z.array(Server).max(10_000).default([]).describe("Servers."),
};

export const Frontend = z.strictObject(FrontendShape).describe("A `frontend` section.");
export type Frontend = z.infer<typeof Frontend>;
export const Backend = z.strictObject(BackendShape).describe("A `backend` section.");
export type Backend = z.infer<typeof Backend>;
/** `listen`: a frontend and a backend of the same name in one section. */
export const Listen = z
  .strictObject({ ...BackendShape, ...FrontendShape, name: Ident("listen name") })
  .describe("A `listen` section: frontend and backend in one.");
export type Listen = z.infer<typeof Listen>;

// ---------------------------------------------------------------- other sections

export const MapDef = z
  .strictObject({
    name: Ident("map name"),
    entries: z
      .array(
        z.strictObject({
          key: wordSchema("map key", 1024).describe("Key (one word)."),
          value: z
            .string()
            .max(4096)
            .refine((v) => !hasControlChar(v), "no control characters")
            .describe("Value (rest of the line)."),
        }),
      )
      .max(100_000)
      .default([])
      .describe("Entries, one line each."),
  })
  .describe("A map file, written by the agent; referenced as `map(@<name>)` in expressions.");

export const Resolvers = z
  .strictObject({
    name: Ident("resolvers name"),
    nameservers: z
      .array(z.strictObject({ name: Ident("nameserver name"), address: HostAddress, port: Port.default(53) }))
      .min(1)
      .max(16)
      .describe("DNS servers."),
    resolve_retries: z.number().int().min(1).max(100).optional().describe("`resolve_retries`."),
    timeouts: z
      .strictObject({
        resolve: Duration.optional().describe("`timeout resolve`."),
        retry: Duration.optional().describe("`timeout retry`."),
      })
      .default({})
      .describe("Resolver timeouts."),
    hold: z
      .partialRecord(z.enum(["nx", "other", "refused", "timeout", "valid", "obsolete"]), Duration)
      .default({})
      .describe("`hold <status> <period>`."),
    accepted_payload_size: z
      .number()
      .int()
      .min(512)
      .max(65535)
      .optional()
      .describe("`accepted_payload_size`."),
  })
  .describe("A `resolvers` section.");

export const Userlist = z
  .strictObject({
    name: Ident("userlist name"),
    groups: z.array(Ident("group name")).max(100).default([]).describe("Groups."),
    users: z
      .array(
        z.strictObject({
          name: Ident("user name"),
          password: z
            .string()
            .regex(/^\$[0-9a-z]{1,4}\$[A-Za-z0-9./$=,+-]{1,200}$/, "a crypt(3) hash ($id$salt$hash)")
            .optional()
            .describe("crypt(3) password hash (`password`)."),
          insecure_password: argSchema("password")
            .optional()
            .describe("Clear-text password (`insecure-password`); prefer `password`."),
          groups: z.array(Ident("group name")).max(100).default([]).describe("Groups of the user."),
        }),
      )
      .max(10_000)
      .default([])
      .describe("Users."),
  })
  .describe("A `userlist` section (for `http-request auth` / `http_auth()`).");

// ---------------------------------------------------------------- advanced

/** Sections the document does not model, kept whole as raw lines (`advanced.sections`). */
const RAW_SECTION_TYPES = [
  "peers",
  "mailers",
  "program",
  "http-errors",
  "ring",
  "cache",
  "fcgi-app",
  "userlist",
  "resolvers",
] as const;

/** Every keyword that opens a section of haproxy.cfg (also the agent's cfg reader's). */
export const HAPROXY_SECTION_KEYWORDS: readonly string[] = [
  "global",
  "defaults",
  "frontend",
  "backend",
  "listen",
  ...RAW_SECTION_TYPES,
];
/** A raw configuration line: one line, not a section header. */
export const RawLine = z
  .string()
  .max(8192)
  .superRefine((v, ctx) => {
    if (hasControlChar(v))
      ctx.addIssue({
        code: "custom",
        message: "a raw line must not contain control characters (newline, CR, tab, NUL)",
      });
    const first = v.trim().split(/\s+/)[0] ?? "";
    if (HAPROXY_SECTION_KEYWORDS.includes(first))
      ctx.addIssue({ code: "custom", message: `a raw line must not open a section ('${first}')` });
    if (/^\s*$/.test(v)) ctx.addIssue({ code: "custom", message: "a raw line must not be empty" });
  })
  .describe("One raw configuration line (no newline, not a section header).");

export const RawSection = z
  .strictObject({
    type: z.enum(RAW_SECTION_TYPES).describe("Section keyword."),
    name: Ident("section name"),
    lines: z.array(RawLine).max(10_000).default([]).describe("Lines of the section."),
  })
  .describe("A whole raw section the document does not model.");

const RawByName = z.record(z.string(), z.array(RawLine).max(10_000)).default({});

export const Advanced = z
  .strictObject({
    global: z.array(RawLine).max(10_000).default([]).describe("Raw lines appended to `global`."),
    defaults: RawByName.describe(
      "Raw lines per defaults section (key: its name, or `` for an unnamed one by position `#<index>`).",
    ),
    frontends: RawByName.describe("Raw lines per frontend name, appended to its section."),
    backends: RawByName.describe("Raw lines per backend name, appended to its section."),
    listens: RawByName.describe("Raw lines per listen name, appended to its section."),
    sections: z.array(RawSection).max(100).default([]).describe("Raw sections (peers, mailers, cache, …)."),
  })
  .describe("Escape hatch: raw directives per section. Changing it requires `haproxy:raw`.");
export type Advanced = z.infer<typeof Advanced>;

// ---------------------------------------------------------------- document

export const StateMeta = z
  .object({
    revision: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Revision this document was read at (for optimistic concurrency)."),
    committed_at: z.string().optional().describe("When this revision was committed (read-only)."),
    committed_by: z.string().nullable().optional().describe("Who committed it (read-only)."),
    comment: z
      .string()
      .max(500)
      .refine((v) => !hasControlChar(v), "no control characters")
      .optional()
      .describe("Free-text change note, kept with the snapshot."),
  })
  .describe("Read-only metadata, and the revision a PUT is based on.");

export const StateDocument = z
  .strictObject({
    schema_version: z
      .literal(STATE_SCHEMA_VERSION)
      .default(STATE_SCHEMA_VERSION)
      .describe("Document schema version."),
    meta: StateMeta.optional(),
    global: Global.default({
      tune: {},
      log: [],
      ssl_default_bind_options: [],
      ssl_default_server_options: [],
    }),
    defaults: z.array(Defaults).max(64).default([]).describe("`defaults` sections, in order."),
    acls: z
      .array(Acl)
      .max(10_000)
      .default([])
      .describe("Named ACLs shared by every frontend and listen section."),
    frontends: z.array(Frontend).max(10_000).default([]).describe("Frontends."),
    backends: z.array(Backend).max(20_000).default([]).describe("Backends."),
    listens: z.array(Listen).max(10_000).default([]).describe("Listen sections."),
    maps: z.array(MapDef).max(1000).default([]).describe("Map files."),
    resolvers: z.array(Resolvers).max(64).default([]).describe("DNS resolvers sections."),
    userlists: z.array(Userlist).max(64).default([]).describe("Userlists."),
    advanced: Advanced.optional(),
  })
  .describe("The desired HAProxy configuration of one cluster.")
  .meta({ id: "HaproxyStateDocument" });
export type StateDocument = z.infer<typeof StateDocument>;
export type StateDocumentInput = z.input<typeof StateDocument>;

// ---------------------------------------------------------------- cross references

/** ACLs HAProxy predefines. */
export const PREDEFINED_ACLS = new Set([
  "FALSE",
  "HTTP",
  "HTTP_1.0",
  "HTTP_1.1",
  "HTTP_2.0",
  "HTTP_CONTENT",
  "HTTP_URL_ABS",
  "HTTP_URL_SLASH",
  "HTTP_URL_STAR",
  "LOCALHOST",
  "METH_CONNECT",
  "METH_DELETE",
  "METH_GET",
  "METH_HEAD",
  "METH_OPTIONS",
  "METH_POST",
  "METH_PUT",
  "METH_TRACE",
  "RDP_COOKIE",
  "REQ_CONTENT",
  "TRUE",
  "WAIT_END",
]);

/** Named ACLs referenced by a condition (outside anonymous `{ … }` blocks). */
export function condAclNames(test: string): string[] {
  const out: string[] = [];
  let depth = 0;
  for (const raw of test.split(" ")) {
    let t = raw;
    if (t === "||" || t === "or") continue;
    if (t.startsWith("!")) t = t.slice(1);
    if (t === "{" || t.startsWith("{")) {
      depth++;
      continue;
    }
    if (t === "}") {
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (depth === 0 && t.length > 0) out.push(t);
  }
  return out;
}

const MAP_CONV_RE = /\bmap(?:_[a-z]+)*\(([^,)]*)/g;
const FILE_WORDS = new Set(["file", "lf-file", "errorfile", "errorfiles"]);

function mapRefs(s: string): string[] {
  return [...s.matchAll(MAP_CONV_RE)].map((m) => m[1] ?? "");
}

/**
 * Checks what a schema cannot: names are unique, every reference resolves, conditions
 * only name declared ACLs, maps are referenced by name (`@name`), never by path, and no
 * structured rule reads a file. Returns field issues (empty when consistent).
 */
export function crossCheck(doc: StateDocument): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const add = (field: string, message: string) => issues.push({ field, message, type: "reference" });
  const uniq = (
    list: Array<{ name?: string | undefined }>,
    path: string,
    what: string,
    seen = new Map<string, string>(),
  ) => {
    list.forEach((x, i) => {
      if (x.name === undefined) return;
      const prev = seen.get(x.name);
      if (prev) add(`${path}.${i}.name`, `${what} '${x.name}' is already defined at ${prev}`);
      else seen.set(x.name, `${path}.${i}`);
    });
    return seen;
  };
  uniq(doc.defaults, "defaults", "defaults section");
  const proxies = new Map<string, string>();
  uniq(doc.frontends, "frontends", "proxy", proxies);
  const backendNames = new Set<string>();
  // Backends and frontends may share a name in HAProxy, but two backends may not.
  const backSeen = new Map<string, string>();
  uniq(doc.backends, "backends", "backend", backSeen);
  uniq(doc.listens, "listens", "proxy", proxies);
  for (const [i, l] of doc.listens.entries()) {
    if (backSeen.has(l.name))
      add(`listens.${i}.name`, `listen '${l.name}' clashes with backend at ${backSeen.get(l.name)}`);
  }
  for (const b of doc.backends) backendNames.add(b.name);
  for (const l of doc.listens) backendNames.add(l.name);
  uniq(doc.maps, "maps", "map");
  uniq(doc.resolvers, "resolvers", "resolvers section");
  uniq(doc.userlists, "userlists", "userlist");
  uniq(doc.acls, "acls", "shared ACL");

  const defaultsNames = new Set(doc.defaults.flatMap((d) => (d.name ? [d.name] : [])));
  const mapNames = new Set(doc.maps.map((m) => m.name));
  const resolverNames = new Set(doc.resolvers.map((r) => r.name));
  const sharedAcls = new Set(doc.acls.map((a) => a.name));

  const checkMaps = (s: string, field: string) => {
    for (const ref of mapRefs(s)) {
      if (!ref.startsWith("@"))
        add(field, `map converters must name a document map as '@<name>', not a path ('${ref}')`);
      else if (!mapNames.has(ref.slice(1))) add(field, `map '${ref.slice(1)}' is not defined in maps`);
    }
  };
  const checkAction = (action: string | undefined, args: string[], field: string) => {
    if (!action) return;
    const paren = /\(([^)]*)\)$/.exec(action)?.[1];
    if (/^(set-map|del-map|add-acl|del-acl)\(/.test(action)) {
      if (!paren?.startsWith("@"))
        add(`${field}.action`, `${action.split("(")[0]} must name a document map as '@<name>'`);
      else if (!mapNames.has(paren.slice(1)))
        add(`${field}.action`, `map '${paren.slice(1)}' is not defined in maps`);
    }
    args.forEach((a, j) => {
      if (a === "if" || a === "unless")
        add(`${field}.args.${j}`, "conditions go in cond/cond_test, not in args");
      if (FILE_WORDS.has(a))
        add(`${field}.args.${j}`, `'${a}' reads a file on the node: use \`advanced\` (haproxy:raw)`);
      if (/^use-service$/.test(action) && /^lua\./.test(a))
        add(`${field}.args.${j}`, "Lua services are not available");
      checkMaps(a, `${field}.args.${j}`);
    });
  };
  const checkCond = (r: { cond_test?: string | undefined }, acls: Set<string>, field: string) => {
    if (!r.cond_test) return;
    for (const n of condAclNames(r.cond_test)) {
      if (!acls.has(n) && !PREDEFINED_ACLS.has(n)) add(`${field}.cond_test`, `no such ACL: '${n}'`);
    }
    checkMaps(r.cond_test, `${field}.cond_test`);
  };

  doc.acls.forEach((a, i) => {
    checkMaps(a.criterion, `acls.${i}.criterion`);
  });

  type ProxyLike = Partial<Frontend & Backend> & { name: string; acls: Acl[] };
  const checkProxy = (p: ProxyLike, path: string, isFrontend: boolean) => {
    if (p.defaults && !defaultsNames.has(p.defaults))
      add(`${path}.defaults`, `defaults section '${p.defaults}' is not defined`);
    const acls = new Set<string>(isFrontend ? sharedAcls : []);
    p.acls.forEach((a, i) => {
      acls.add(a.name);
      checkMaps(a.criterion, `${path}.acls.${i}.criterion`);
    });
    for (const [k, list] of [
      ["http_request", p.http_request ?? []],
      ["http_response", p.http_response ?? []],
    ] as const) {
      list.forEach((r, i) => {
        checkAction(r.action, r.args, `${path}.${k}.${i}`);
        checkCond(r, acls, `${path}.${k}.${i}`);
      });
    }
    (p.tcp_request ?? []).forEach((r, i) => {
      if (r.stage !== "inspect-delay" && !r.action)
        add(`${path}.tcp_request.${i}.action`, "an action is required");
      checkAction(r.action, r.args, `${path}.tcp_request.${i}`);
      checkCond(r, acls, `${path}.tcp_request.${i}`);
    });
    (p.use_backends ?? []).forEach((u, i) => {
      if (!backendNames.has(u.backend))
        add(`${path}.use_backends.${i}.backend`, `backend '${u.backend}' is not defined`);
      checkCond(u, acls, `${path}.use_backends.${i}`);
    });
    if (p.default_backend !== undefined && !backendNames.has(p.default_backend))
      add(`${path}.default_backend`, `backend '${p.default_backend}' is not defined`);
    (p.stick ?? []).forEach((s, i) => {
      checkCond(s, acls, `${path}.stick.${i}`);
    });
    const servers = new Map<string, string>();
    (p.servers ?? []).forEach((s, i) => {
      if (servers.has(s.name))
        add(`${path}.servers.${i}.name`, `server '${s.name}' is already defined at ${servers.get(s.name)}`);
      else servers.set(s.name, `${path}.servers.${i}`);
      if (s.resolvers && !resolverNames.has(s.resolvers))
        add(`${path}.servers.${i}.resolvers`, `resolvers '${s.resolvers}' is not defined`);
      if (s.sni) checkMaps(s.sni, `${path}.servers.${i}.sni`);
    });
  };
  doc.frontends.forEach((f, i) => {
    checkProxy(f, `frontends.${i}`, true);
  });
  doc.backends.forEach((b, i) => {
    checkProxy(b, `backends.${i}`, false);
  });
  doc.listens.forEach((l, i) => {
    checkProxy(l, `listens.${i}`, true);
  });

  if (doc.advanced) {
    const known = {
      frontends: new Set(doc.frontends.map((f) => f.name)),
      backends: new Set(doc.backends.map((b) => b.name)),
      listens: new Set(doc.listens.map((l) => l.name)),
    };
    for (const k of ["frontends", "backends", "listens"] as const) {
      for (const name of Object.keys(doc.advanced[k])) {
        if (!known[k].has(name)) add(`advanced.${k}.${name}`, `no ${k.slice(0, -1)} named '${name}'`);
      }
    }
    for (const name of Object.keys(doc.advanced.defaults)) {
      const ok =
        defaultsNames.has(name) || (/^#\d+$/.test(name) && Number(name.slice(1)) < doc.defaults.length);
      if (!ok) add(`advanced.defaults.${name}`, `no defaults section '${name}' (use its name or '#<index>')`);
    }
  }
  return issues;
}

/** An empty document (revision 0 of a new cluster). */
export function emptyState(): StateDocument {
  return StateDocument.parse({});
}

/** Arguments accepted by `Arg`, re-exported for the importer. */
export { Arg };
