/**
 * wireguard-go's UAPI over its unix socket (`/var/run/wireguard/<device>.sock`, in the
 * host filesystem whatever the namespace): `get=1` reads the device, `set=1` applies a
 * batch of changes in one write. Keys are hex on this protocol, base64 everywhere else.
 * The text of a `get` holds the device's private key: it is parsed here and never logged.
 */
import { connect } from "node:net";
import { wgNet } from "@edgeplane/proto";

export const UAPI_DIR = "/var/run/wireguard";
export const socketPath = (device: string) => `${UAPI_DIR}/${device}.sock`;

export class UapiError extends Error {
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(message);
    this.name = "UapiError";
    this.errno = errno;
  }
}

/** One peer as the device reports it. */
export interface UapiPeer {
  publicKey: string;
  presharedKey: string | null;
  endpoint: string | null;
  lastHandshakeSec: number;
  rxBytes: number;
  txBytes: number;
  keepalive: number;
  allowedIps: string[];
}

export interface UapiDevice {
  /** base64; a secret. */
  privateKey: string | null;
  listenPort: number;
  peers: Map<string, UapiPeer>;
}

const ZERO_KEY = "0".repeat(64);

/** Send one request and return the reply text (up to and including the blank line). */
function exchange(path: string, request: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const chunks: Buffer[] = [];
    let tail = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`UAPI ${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on("data", (b: Buffer) => {
      chunks.push(b);
      tail = (tail + b.toString("latin1")).slice(-2);
      if (tail === "\n\n") {
        clearTimeout(timer);
        sock.end();
        resolve(Buffer.concat(chunks).toString("utf8"));
      }
    });
    sock.on("end", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      if (text.endsWith("\n\n")) resolve(text);
      else reject(new Error(`UAPI ${path}: connection closed mid-reply`));
    });
    sock.write(request);
  });
}

function errnoOf(text: string): number {
  const m = /(?:^|\n)errno=(-?\d+)\n/.exec(text);
  return m ? Number(m[1]) : -1;
}

export async function uapiGet(device: string, timeoutMs = 5000): Promise<UapiDevice> {
  const text = await exchange(socketPath(device), "get=1\n\n", timeoutMs);
  const errno = errnoOf(text);
  if (errno !== 0) throw new UapiError(`UAPI get on ${device} failed (errno ${errno})`, errno);
  const dev: UapiDevice = { privateKey: null, listenPort: 0, peers: new Map() };
  let peer: UapiPeer | undefined;
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    if (k === "public_key") {
      peer = {
        publicKey: wgNet.hexToKey(v),
        presharedKey: null,
        endpoint: null,
        lastHandshakeSec: 0,
        rxBytes: 0,
        txBytes: 0,
        keepalive: 0,
        allowedIps: [],
      };
      dev.peers.set(peer.publicKey, peer);
      continue;
    }
    if (!peer) {
      if (k === "private_key") dev.privateKey = v === ZERO_KEY ? null : wgNet.hexToKey(v);
      else if (k === "listen_port") dev.listenPort = Number(v);
      continue;
    }
    switch (k) {
      case "preshared_key":
        peer.presharedKey = v === ZERO_KEY ? null : wgNet.hexToKey(v);
        break;
      case "endpoint":
        peer.endpoint = v;
        break;
      case "last_handshake_time_sec":
        peer.lastHandshakeSec = Number(v);
        break;
      case "rx_bytes":
        peer.rxBytes = Number(v);
        break;
      case "tx_bytes":
        peer.txBytes = Number(v);
        break;
      case "persistent_keepalive_interval":
        peer.keepalive = Number(v);
        break;
      case "allowed_ip":
        peer.allowedIps.push(v);
        break;
    }
  }
  return dev;
}

/**
 * Apply a batch: `lines` are `key=value` UAPI lines (built only from validated values by
 * the reconciler). One write, one answer, whatever the number of peers.
 */
export async function uapiSet(device: string, lines: readonly string[], timeoutMs = 10_000): Promise<void> {
  if (lines.length === 0) return;
  for (const l of lines) {
    // Defence in depth: a line is exactly one `key=value` with no line break.
    if (!/^[a-z_]+=[^\n\r]*$/.test(l)) throw new Error("refusing a malformed UAPI line");
  }
  const text = await exchange(socketPath(device), `set=1\n${lines.join("\n")}\n\n`, timeoutMs);
  const errno = errnoOf(text);
  if (errno !== 0) throw new UapiError(`UAPI set on ${device} failed (errno ${errno})`, errno);
}

/** True when the device's socket answers. */
export async function uapiAlive(device: string): Promise<boolean> {
  try {
    await exchange(socketPath(device), "get=1\n\n", 2000);
    return true;
  } catch {
    return false;
  }
}
