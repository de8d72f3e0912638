/**
 * SSH for the linux driver (`ssh2`, pure JS). One connection per operation; only the
 * fixed commands below are ever executed — user input travels as JSON or batch lines
 * on stdin, built from validated fields, never spliced into a command line. The host
 * key is pinned by its OpenSSH SHA-256 fingerprint unless `tls.verify` is explicitly
 * false. Failures become typed adapter errors.
 */
import { createHash } from "node:crypto";
import { type EpError, Errors } from "@edgeplane/proto";
import { Client, type ConnectConfig } from "ssh2";
import { connectionError } from "./http.ts";
import type { Conn } from "./types.ts";

/** Every command the linux driver may run, verbatim. */
export const Commands = {
  uname: "uname -srm",
  hostname: "cat /proc/sys/kernel/hostname",
  nftList: "nft -j list ruleset",
  // nft opens /dev/stdin, which fails when stdin is a socket (sshd may use socketpairs): pipe it.
  nftApply: "cat | nft -j -f -",
  nftApplyEcho: "cat | nft -e -a -j -f -",
  routes: "ip -j route show table main",
  addresses: "ip -j addr show",
  links: "ip -j link show",
  ipBatch: "ip -batch -",
} as const;
export type Command = (typeof Commands)[keyof typeof Commands];

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SshSession {
  /** Run one fixed command, feeding `stdin`. */
  run(cmd: Command, stdin?: string): Promise<ExecResult>;
  /** Run a command built by `timerCommand`/`disarmCommand` (validated integers and ids only). */
  runBuilt(cmd: BuiltCommand, stdin?: string): Promise<ExecResult>;
}

/** A command assembled from validated parts only (see the builders below). */
export type BuiltCommand = { readonly built: string };

const CHANGE_ID_RE = /^chg_[0-9a-z]{16}$/;

/** The device-side rollback file of a change (ids are `chg_` + base32). */
export function rollbackFile(changeId: string): string {
  if (!CHANGE_ID_RE.test(changeId)) throw new Error("invalid change id");
  return `/run/edgeplane-rollback-${changeId}.json`;
}

/**
 * Arm a device-side rollback: stdin (what restores the device: nft JSON, or `ip -batch`
 * lines) is written to the change's rollback file; a detached timer replays it after
 * `seconds` unless a confirm (or the controller's own rollback) removed the file first.
 * The file is claimed with an atomic `mv`, so a confirm and the timer never both win.
 * This is what saves a change that cuts the management path off.
 */
export function timerCommand(changeId: string, seconds: number, tool: "nft" | "ip"): BuiltCommand {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 7200) throw new Error("invalid timer");
  const f = rollbackFile(changeId);
  const replay = tool === "nft" ? `nft -j -f ${f}.fire` : `ip -force -batch ${f}.fire`;
  return {
    built: `umask 077; cat > ${f} && { setsid sh -c 'sleep ${seconds}; if mv ${f} ${f}.fire 2>/dev/null; then ${replay}; rm -f ${f}.fire; fi' </dev/null >/dev/null 2>&1 & }`,
  };
}

/** Confirm: remove the rollback file; fails (non-zero) when the timer already claimed it. */
export function confirmCommand(changeId: string): BuiltCommand {
  return { built: `rm ${rollbackFile(changeId)}` };
}

/** The controller rolled back itself: make sure the device timer has nothing left to do. */
export function disarmCommand(changeId: string): BuiltCommand {
  return { built: `rm -f ${rollbackFile(changeId)}` };
}

/** OpenSSH's `SHA256:…` fingerprint of a host key blob. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

function target(baseUrl: string): { host: string; port: number } {
  const u = new URL(baseUrl);
  if (u.protocol !== "ssh:")
    throw Errors.ValidationFailed.create([
      { field: "base_url", message: "the linux driver needs ssh://host[:port]", type: "custom" },
    ]);
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port: u.port ? Number(u.port) : 22 };
}

function sshError(err: Error & { level?: string; code?: string }, c: Conn): EpError {
  if (err.level === "client-authentication") {
    c.log.warn({ controller: c.controllerId }, "ssh authentication failed");
    return Errors.AdapterAuthentication.create();
  }
  if (err.level === "client-timeout") return Errors.AdapterTimeout.create({ timeout_ms: c.timeoutMs });
  if (/host key|hostkey/i.test(err.message) || err.level === "handshake") {
    c.log.warn({ controller: c.controllerId, err: err.message }, "ssh handshake failed");
    return Errors.AdapterConnection.withMessage("could not verify the device's SSH host key", {
      reason: "host_key_verification_failed",
    });
  }
  if (err.code) return connectionError(err as NodeJS.ErrnoException, c);
  c.log.warn({ controller: c.controllerId, err: err.message }, "ssh failed");
  return Errors.AdapterConnection.create({ reason: "ssh_failed" });
}

/** Open a session, run `fn`, close. The whole thing is bounded by `c.timeoutMs`. */
export async function withSsh<T>(c: Conn, fn: (s: SshSession) => Promise<T>): Promise<T> {
  const { host, port } = target(c.baseUrl);
  const client = new Client();
  const cfg: ConnectConfig = {
    host,
    port,
    username: c.credentials.username ?? "root",
    readyTimeout: c.timeoutMs,
    keepaliveInterval: 0,
  };
  if (c.credentials.private_key) {
    cfg.privateKey = c.credentials.private_key;
    if (c.credentials.passphrase) cfg.passphrase = c.credentials.passphrase;
  }
  if (c.credentials.password) cfg.password = c.credentials.password;
  if (c.tls.verify) {
    const pin = c.tls.host_key_sha256;
    cfg.hostVerifier = (key: Buffer) => pin !== undefined && fingerprint(key) === pin;
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => {
      client.end();
      reject(Errors.AdapterTimeout.create({ timeout_ms: c.timeoutMs }));
    }, c.timeoutMs);
  });
  const connected = new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("error", (err) => reject(sshError(err, c)));
  });
  client.on("error", () => undefined); // late socket errors after the first one: already handled
  const exec = (line: string, stdin?: string) =>
    new Promise<ExecResult>((resolve, reject) => {
      client.exec(line, (err, stream) => {
        if (err) return reject(sshError(err, c));
        let stdout = "";
        let stderr = "";
        stream.on("data", (b: Buffer) => {
          stdout += b.toString("utf8");
        });
        stream.stderr.on("data", (b: Buffer) => {
          stderr += b.toString("utf8");
        });
        stream.on("close", (code: number | null) => resolve({ code, stdout, stderr }));
        if (stdin !== undefined) stream.end(stdin);
        else stream.end();
      });
    });
  const session: SshSession = {
    run: (cmd, stdin) => exec(cmd, stdin),
    runBuilt: (cmd, stdin) => exec(cmd.built, stdin),
  };
  try {
    client.connect(cfg);
    await Promise.race([connected, deadline]);
    return await Promise.race([fn(session), deadline]);
  } finally {
    clearTimeout(timer);
    client.end();
  }
}

/** Fail with `adapter_error` (detail logged) unless the command exited 0. */
export function expectZero(c: Conn, r: ExecResult, what: string): string {
  if (r.code === 0) return r.stdout;
  c.log.warn(
    { controller: c.controllerId, what, code: r.code, stderr: r.stderr.slice(0, 500) },
    "device command failed",
  );
  if (/No such file or directory|does not exist/i.test(r.stderr))
    throw Errors.AdapterNotFound.create({ what });
  throw Errors.AdapterError.create({ what, exit_code: r.code });
}
