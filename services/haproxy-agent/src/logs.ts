/**
 * Live logs: a loopback UDP syslog listener haproxy logs to, a parser for HAProxy's
 * default HTTP and TCP log formats, and a plain NATS publish per line
 * (`ep.v1.logs.haproxy.<cluster>.<node>`). UDP never blocks haproxy; publishing never
 * blocks the listener (NATS buffers, and a slow SSE client is the gateway's problem).
 * The chosen port is kept in `<dir>/log-port` so an agent restart renders the same
 * configuration (no reload just because the agent came back).
 */
import { createSocket, type Socket } from "node:dgram";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type HaproxyLogEntry, HaproxyLogSubjects, type Logger } from "@edgeplane/proto";
import type { NatsConnection } from "@nats-io/transport-node";

const SYSLOG_RE =
  /^<(\d{1,3})>(?:1 \S+ \S+ \S+ (\d+|-) \S+ \S+ |\w{3} [ \d]\d \d\d:\d\d:\d\d (?:\S+ )?[^\s[]+\[(\d+)\]: )(.*)$/s;

const HTTP_RE =
  /^(\S+):(\d+) \[([^\]]+)\] (\S+?)(~?) ([^/\s]+)\/(\S+) (-?\d+)\/(-?\d+)\/(-?\d+)\/(-?\d+)\/\+?(-?\d+) (-?\d+) \+?(\d+) \S+ \S+ (\S{4}) \d+\/\d+\/\d+\/\d+\/\+?\d+ \d+\/\d+ (?:\{[^}]*\} )*"(\S+) (\S+)(?: [^"]*)?"?/;
const TCP_RE =
  /^(\S+):(\d+) \[([^\]]+)\] (\S+?)(~?) ([^/\s]+)\/(\S+) (-?\d+)\/(-?\d+)\/\+?(-?\d+) \+?(\d+) (\S{2,4}) \d+\/\d+\/\d+\/\d+\/\+?\d+ \d+\/\d+/;

const int = (v: string | undefined) => (v === undefined ? null : Number.parseInt(v, 10));

/** Parse one syslog datagram from haproxy; null when it is not syslog at all. */
export function parseLogLine(
  raw: string,
  cluster: string,
  node: string,
  ts = Date.now(),
): HaproxyLogEntry | null {
  const m = SYSLOG_RE.exec(raw.replace(/\n$/, ""));
  if (!m) return null;
  const pri = Number(m[1]);
  const pid = int(m[3] ?? (m[2] && m[2] !== "-" ? m[2] : undefined));
  const message = m[4] ?? "";
  const base: HaproxyLogEntry = {
    ts,
    cluster,
    node,
    kind: "other",
    severity: pri % 8,
    pid,
    client: null,
    client_port: null,
    accept_date: null,
    frontend: null,
    tls: false,
    backend: null,
    server: null,
    status: null,
    bytes: null,
    time_total_ms: null,
    termination: null,
    method: null,
    path: null,
    message: message.slice(0, 8192),
  };
  const h = HTTP_RE.exec(message);
  if (h) {
    return {
      ...base,
      kind: "http",
      client: h[1] ?? null,
      client_port: int(h[2]),
      accept_date: h[3] ?? null,
      frontend: h[4] ?? null,
      tls: h[5] === "~",
      backend: h[6] ?? null,
      server: h[7] ?? null,
      time_total_ms: int(h[12]),
      status: int(h[13]),
      bytes: int(h[14]),
      termination: h[15] ?? null,
      method: h[16] ?? null,
      path: (h[17] ?? "").slice(0, 4096) || null,
    };
  }
  const t = TCP_RE.exec(message);
  if (t) {
    return {
      ...base,
      kind: "tcp",
      client: t[1] ?? null,
      client_port: int(t[2]),
      accept_date: t[3] ?? null,
      frontend: t[4] ?? null,
      tls: t[5] === "~",
      backend: t[6] ?? null,
      server: t[7] ?? null,
      time_total_ms: int(t[10]),
      bytes: int(t[11]),
      termination: t[12] ?? null,
    };
  }
  return base;
}

export interface LogListener {
  /** `127.0.0.1:<port>`, for the rendered `log` line. */
  target: string;
  /** Lines received / published / unparsable since start. */
  counts: { received: number; published: number; other: number };
  close(): Promise<void>;
}

async function bind(sock: Socket, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error) => reject(e);
    sock.once("error", onErr);
    sock.bind(port, "127.0.0.1", () => {
      sock.off("error", onErr);
      resolve(sock.address().port);
    });
  });
}

export async function startLogListener(o: {
  nc: NatsConnection;
  cluster: string;
  node: string;
  dir: string;
  port: number;
  log: Logger;
}): Promise<LogListener> {
  const portFile = join(o.dir, "log-port");
  const remembered = Number.parseInt(await readFile(portFile, "utf8").catch(() => ""), 10);
  let sock = createSocket({ type: "udp4", recvBufferSize: 4 * 1024 * 1024 } as never);
  let port: number;
  try {
    port = await bind(sock, o.port || Math.max(remembered, 0));
  } catch {
    // The remembered port is taken: pick a new one (the next apply reloads with it).
    sock.close();
    sock = createSocket({ type: "udp4", recvBufferSize: 4 * 1024 * 1024 } as never);
    port = await bind(sock, 0);
  }
  await writeFile(portFile, String(port)).catch(() => undefined);
  const subject = HaproxyLogSubjects.node(o.cluster, o.node);
  const counts = { received: 0, published: 0, other: 0 };
  // Lines are published once per event-loop turn: nats.js writes to its socket once per
  // microtask checkpoint, which is once per datagram otherwise. An old worker stopping
  // after a reload sends one line per proxy (10,000 at 10,000 backends) while the new one
  // starts: one write each was ~100 ms of this process's time in the reload's window.
  let pending: string[] = [];
  const flush = () => {
    const lines = pending;
    pending = [];
    for (const line of lines) {
      try {
        o.nc.publish(subject, line);
        counts.published++;
      } catch {
        /* connection closing */
      }
    }
  };
  sock.on("message", (buf) => {
    counts.received++;
    const e = parseLogLine(buf.toString("utf8"), o.cluster, o.node);
    if (!e) return;
    if (e.kind === "other") counts.other++;
    if (pending.push(JSON.stringify(e)) === 1) setImmediate(flush);
  });
  sock.on("error", (err) => o.log.warn({ err }, "log listener error"));
  o.log.info({ port }, "listening for haproxy logs");
  return {
    target: `127.0.0.1:${port}`,
    counts,
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}
