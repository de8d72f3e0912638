/**
 * The wg-quick client config of a peer. Every value written is re-checked here against
 * its strict grammar (keys, addresses, prefixes, host, numbers) even though it was
 * validated on the way in: a value that would not be one clean token throws instead of
 * becoming a line. There is no free text in a config; names appear nowhere in it.
 */
import { wgNet } from "@edgeplane/proto";

export interface ClientConfigInput {
  /** The client's private key, when known (generated now, or unsealed). */
  privateKey: string | null;
  addresses: readonly string[];
  dns: readonly string[];
  mtu: number | null;
  serverPublicKey: string;
  presharedKey: string | null;
  /** Prefixes routed into the tunnel (the interface's subnets). */
  allowedIps: readonly string[];
  endpointHost: string;
  endpointPort: number;
  persistentKeepalive: number;
}

export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RenderError";
  }
}

function key(v: string, what: string): string {
  if (!wgNet.WG_KEY_RE.test(v)) throw new RenderError(`${what} is not a WireGuard key`);
  return v;
}
function cidr(v: string): string {
  const c = wgNet.parseCidr(v);
  if (!c) throw new RenderError("invalid prefix");
  return `${c.ip.text}/${c.prefix}`;
}
function ip(v: string): string {
  const p = wgNet.parseIp(v);
  if (!p) throw new RenderError("invalid address");
  return p.text;
}
function int(v: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RenderError(`${what} out of range`);
  return v;
}
function endpoint(host: string, port: number): string {
  const p = int(port, 1, 65535, "port");
  const addr = wgNet.parseIp(host);
  if (addr) return addr.family === 6 ? `[${addr.text}]:${p}` : `${addr.text}:${p}`;
  if (!wgNet.isHostname(host)) throw new RenderError("invalid endpoint host");
  return `${host}:${p}`;
}

export function renderClientConfig(c: ClientConfigInput): string {
  const lines = ["[Interface]"];
  if (c.privateKey) lines.push(`PrivateKey = ${key(c.privateKey, "private key")}`);
  else lines.push("# PrivateKey = (your own private key: the server never saw it)");
  lines.push(`Address = ${c.addresses.map(cidr).join(", ")}`);
  if (c.dns.length > 0) lines.push(`DNS = ${c.dns.map(ip).join(", ")}`);
  if (c.mtu !== null) lines.push(`MTU = ${int(c.mtu, 1280, 9000, "MTU")}`);
  lines.push("", "[Peer]", `PublicKey = ${key(c.serverPublicKey, "server public key")}`);
  if (c.presharedKey) lines.push(`PresharedKey = ${key(c.presharedKey, "preshared key")}`);
  lines.push(`AllowedIPs = ${c.allowedIps.map(cidr).join(", ")}`);
  lines.push(`Endpoint = ${endpoint(c.endpointHost, c.endpointPort)}`);
  if (c.persistentKeepalive > 0)
    lines.push(`PersistentKeepalive = ${int(c.persistentKeepalive, 1, 65535, "keepalive")}`);
  const text = `${lines.join("\n")}\n`;
  // A config is exactly these lines: anything else means a value smuggled a line in.
  const allowed =
    /^(\[Interface\]|\[Peer\]|# PrivateKey = \(your own private key: the server never saw it\)|(PrivateKey|Address|DNS|MTU|PublicKey|PresharedKey|AllowedIPs|Endpoint|PersistentKeepalive) = [A-Za-z0-9+/=.:, [\]-]+|)$/;
  const all = text.split("\n");
  if (
    /\r/.test(text) ||
    !all.every((l) => allowed.test(l)) ||
    all.filter((l) => l.startsWith("[")).length !== 2
  ) {
    throw new RenderError("refusing to render a config with unexpected content");
  }
  return text;
}
