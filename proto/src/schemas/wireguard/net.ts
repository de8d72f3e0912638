/**
 * Strict parsing of the network values that reach a WireGuard device or a client config:
 * IPv4/IPv6 addresses, CIDR prefixes, hostnames and WireGuard keys. Parsers return a
 * canonical form or an explanation; nothing here is lenient (no leading zeros, no zone
 * ids, no whitespace), so what passes can be written into a config line verbatim.
 */

/** A parsed address: family, its 32- or 128-bit value, and its canonical text. */
export interface Ip {
  family: 4 | 6;
  value: bigint;
  text: string;
}

/** A parsed prefix: the address as written, the prefix length, and the masked network. */
export interface Cidr {
  ip: Ip;
  prefix: number;
  /** The network address (host bits cleared). */
  network: Ip;
  /** `network/prefix`, canonical. */
  text: string;
}

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;

export function parseIpv4(s: string): Ip | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!V4_OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return { family: 4, value: v, text: formatIp(4, v) };
}

export function parseIpv6(s: string): Ip | undefined {
  if (s.length < 2 || s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  let tail = s;
  let v4: bigint | undefined;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    const ip4 = parseIpv4(s.slice(lastColon + 1));
    if (!ip4) return undefined;
    v4 = ip4.value;
    tail = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = tail.split("::");
  if (dbl.length > 2) return undefined;
  const groups = (x: string) => (x === "" ? [] : x.split(":"));
  const head = groups(dbl[0] as string);
  const rest = dbl.length === 2 ? groups(dbl[1] as string) : [];
  const total = head.length + rest.length;
  if (dbl.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...Array<string>(8 - total).fill("0"), ...rest];
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(Number.parseInt(g, 16));
  }
  if (v4 !== undefined) v = (v & ~0xffffffffn) | v4;
  return { family: 6, value: v, text: formatIp(6, v) };
}

export function parseIp(s: string): Ip | undefined {
  return s.includes(":") ? parseIpv6(s) : parseIpv4(s);
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatIp(family: 4 | 6, v: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join(".");
  }
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

export const bitsOf = (family: 4 | 6) => (family === 4 ? 32 : 128);

export function maskOf(family: 4 | 6, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  const host = bits - BigInt(prefix);
  return ((1n << bits) - 1n) ^ ((1n << host) - 1n);
}

/** Parse `addr/prefix`; `allowHostBits` keeps an address with host bits (an interface address). */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > bitsOf(ip.family)) return undefined;
  const nv = ip.value & maskOf(ip.family, prefix);
  const network = { family: ip.family, value: nv, text: formatIp(ip.family, nv) };
  return { ip, prefix, network, text: `${network.text}/${prefix}` };
}

/** True when `ip` lies inside `cidr`. */
export function contains(cidr: Cidr, ip: Ip): boolean {
  return cidr.ip.family === ip.family && (ip.value & maskOf(ip.family, cidr.prefix)) === cidr.network.value;
}

/** True when two prefixes share at least one address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.ip.family !== b.ip.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  const m = maskOf(a.ip.family, p);
  return (a.network.value & m) === (b.network.value & m);
}

/** First and last address of a prefix. */
export function rangeOf(c: Cidr): { first: bigint; last: bigint } {
  const host = BigInt(bitsOf(c.ip.family) - c.prefix);
  return { first: c.network.value, last: c.network.value + (1n << host) - 1n };
}

/** RFC 1123 hostname: dot-separated labels of letters, digits and inner hyphens, ≤ 253 chars. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
export function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.split(".");
  if (labels.at(-1) === "") labels.pop(); // a trailing dot (FQDN) is fine
  if (labels.length === 0) return false;
  // An all-numeric last label would be read as an IPv4 address by resolvers.
  if (/^[0-9]+$/.test(labels.at(-1) as string)) return false;
  return labels.every((l) => LABEL.test(l));
}

/** A WireGuard key (32 bytes) in standard base64: 43 characters and `=`, last char constrained. */
export const WG_KEY_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/;

export const keyToHex = (b64: string): string => Buffer.from(b64, "base64").toString("hex");
export const hexToKey = (hex: string): string => Buffer.from(hex, "hex").toString("base64");

/** Parse a stored (already canonical) prefix; throws on corrupt data. */
export function cidrOf(s: string): Cidr {
  const c = parseCidr(s);
  if (!c) throw new Error(`invalid stored prefix ${JSON.stringify(s)}`);
  return c;
}
