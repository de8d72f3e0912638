/**
 * The load balancer in front of the gateways, as in production (a Kubernetes Service /
 * Ingress, or an HAProxy): a real haproxy with health checks on the gateways' readiness
 * endpoint, connection retries for every method (a refused connection was never
 * delivered), L7 retries for GET only (an idempotent read that lost its gateway), and
 * an admin socket to take a gateway out before stopping it (what endpoint removal plus
 * a preStop delay do in Kubernetes).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort, waitFor } from "../harness/mod.ts";

export interface Front {
  url: string;
  /** `maint` takes a server out (no new requests); `ready` puts it back. */
  setState(server: string, state: "ready" | "maint"): Promise<void>;
  /** Current sessions on a server, and whether its health check says UP. */
  server(name: string): Promise<{ sessions: number; up: boolean }>;
  stop(): Promise<void>;
}

function findHaproxy(): string {
  for (const p of ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"]) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return "haproxy";
}

/** Runs one command on the admin socket and returns its output. */
function admin(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    let out = "";
    c.setEncoding("utf8");
    c.on("data", (d: string) => {
      out += d;
    });
    c.on("end", () => resolve(out));
    c.on("error", reject);
    c.write(`${command}\n`);
  });
}

export async function startFront(dir: string, gateways: Record<string, number>): Promise<Front> {
  const port = await freePort();
  const socket = join(dir, "admin.sock");
  const cfg = join(dir, "front.cfg");
  const servers = Object.entries(gateways)
    .map(([name, p]) => `  server ${name} 127.0.0.1:${p} check`)
    .join("\n");
  await writeFile(
    cfg,
    `global
  noreuseport
  stats socket ${socket} mode 600 level admin
  maxconn 2000

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response junk-response
  # A new server connection per request: no idle pooled connection to a stopped gateway.
  option http-server-close
  http-reuse never

frontend api
  bind 127.0.0.1:${port}
  # A lost GET is safe to send again; a lost write is not (connection failures are
  # retried for every method: those requests were never delivered).
  http-request disable-l7-retry unless METH_GET
  default_backend gateways

backend gateways
  balance roundrobin
  option httpchk GET /api/v1/health/ready
  http-check expect status 200
  default-server inter 250ms fastinter 100ms fall 2 rise 1
${servers}
`,
  );
  const bin = findHaproxy();
  const check = spawn(bin, ["-c", "-q", "-f", cfg], { stdio: ["ignore", "pipe", "pipe"] });
  let checkOut = "";
  check.stderr?.on("data", (b: Buffer) => {
    checkOut += b.toString();
  });
  const code = await new Promise<number | null>((r) => check.once("exit", r));
  if (code !== 0) throw new Error(`front haproxy config invalid:\n${checkOut}`);

  const proc: ChildProcess = spawn(bin, ["-db", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  proc.stderr?.on("data", (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  });
  process.once("exit", () => proc.kill("SIGKILL"));

  const front: Front = {
    url: `http://127.0.0.1:${port}`,
    async setState(server, state) {
      const out = await admin(socket, `set server gateways/${server} state ${state}`);
      if (out.trim()) throw new Error(`haproxy: ${out.trim()}`);
    },
    async server(name) {
      const csv = await admin(socket, "show stat");
      const [header, ...rows] = csv.split("\n");
      const cols = (header ?? "").replace(/^# /, "").split(",");
      for (const row of rows) {
        const f = row.split(",");
        if (f[0] === "gateways" && f[1] === name) {
          const get = (c: string) => f[cols.indexOf(c)] ?? "";
          return { sessions: Number(get("scur")), up: get("status").startsWith("UP") };
        }
      }
      throw new Error(`no server ${name} in show stat`);
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGUSR1"); // soft stop
      const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    },
  };
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`front haproxy exited:\n${log}`);
      for (const name of Object.keys(gateways)) if (!(await front.server(name)).up) return false;
      return true;
    },
    { timeout: 15_000, message: "front haproxy sees every gateway UP" },
  );
  return front;
}
