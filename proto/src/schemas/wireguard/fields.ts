/**
 * Field schemas of the WireGuard domain: every value that can reach a device, a client
 * config, a subject or a log passes one of these, and the 422 message says what is wrong.
 */
import { z } from "zod";
import { nameSchema } from "../../names.ts";
import { isHostname, parseCidr, parseIp, WG_KEY_RE } from "./net.ts";

const printable = (v: string) =>
  [...v].map((c) => (/[\x20-\x7e]/.test(c) ? c : `U+${c.codePointAt(0)?.toString(16).padStart(4, "0")}`));

/** Where the first character outside `allowed` is, for messages (`'\n' at position 3`). */
function badChar(v: string, allowed: RegExp): string | undefined {
  const i = [...v].findIndex((c) => !allowed.test(c));
  if (i < 0) return undefined;
  const c = [...v][i] as string;
  const shown = /[\x21-\x7e]/.test(c) ? `'${c}'` : `U+${c.codePointAt(0)?.toString(16).padStart(4, "0")}`;
  return `${shown} at position ${i}`;
}

/** A WireGuard public or preshared key: 32 bytes, standard base64 (44 characters ending in `=`). */
export function wgKeySchema(what: string) {
  return z
    .string()
    .superRefine((v, ctx) => {
      if (WG_KEY_RE.test(v)) return;
      const bad = badChar(v, /[A-Za-z0-9+/=]/);
      ctx.addIssue({
        code: "custom",
        message: bad
          ? `${what} has ${bad}; a WireGuard key is 44 characters of base64`
          : `${what} is not a WireGuard key (32 bytes of base64: 43 characters then '=')`,
      });
    })
    .describe(`${what}: 32 bytes in standard base64 (44 characters, ending in '=').`);
}
export const WgPublicKey = wgKeySchema("public key");
export const WgPresharedKey = wgKeySchema("preshared key");

const IFNAME_RE = /^[a-z0-9][a-z0-9_-]{0,14}$/;

/** An interface name: a valid Linux interface name that is also a subject token. */
export const WgInterfaceName = z
  .string()
  .superRefine((v, ctx) => {
    if (IFNAME_RE.test(v)) return;
    const msg =
      v.length === 0
        ? "interface name must not be empty"
        : v.length > 15
          ? `interface name is ${v.length} characters long; Linux allows at most 15`
          : !/^[a-z0-9]/.test(v)
            ? "interface name must start with a lower-case letter or digit"
            : `interface name has ${badChar(v, /[a-z0-9_-]/) ?? "an invalid character"}; only a-z, 0-9, '_' and '-' are allowed`;
    ctx.addIssue({ code: "custom", message: msg });
  })
  .describe("Interface name: 1–15 characters of a-z, 0-9, '_', '-', starting with a letter or digit.");

/** A peer's name: the common resource-name grammar. */
export const WgPeerName = nameSchema("peer name");
/** A path segment naming a peer: its id (`peer_…`) or its name. */
export const WgPeerRef = nameSchema("peer id or name");
export const WgNodeName = nameSchema("node name");

/** A host for endpoints: an RFC 1123 hostname, an IPv4 address or an IPv6 address (no brackets). */
export const WgHost = z
  .string()
  .max(253)
  .superRefine((v, ctx) => {
    if (parseIp(v) || isHostname(v)) return;
    const bad = badChar(v, /[A-Za-z0-9.:-]/);
    ctx.addIssue({
      code: "custom",
      message: bad
        ? `host has ${bad}; use a hostname (letters, digits, '-', '.') or an IP address`
        : "host is neither a valid hostname nor an IP address",
    });
  })
  .describe("Public host clients connect to: a DNS name, an IPv4 address or an IPv6 address (no port).");

/** An IP address (either family), canonicalised. */
export const WgIp = z
  .string()
  .max(45)
  .transform((v, ctx) => {
    const ip = parseIp(v);
    if (!ip) {
      ctx.addIssue({
        code: "custom",
        message: `'${printable(v).join("").slice(0, 48)}' is not an IP address`,
      });
      return z.NEVER;
    }
    return ip.text;
  })
  .describe("An IPv4 or IPv6 address.");

/** An interface address with its prefix; host bits name the gateway's own address. */
export function interfaceCidrSchema(family: 4 | 6) {
  const [min, max] = family === 4 ? [8, 30] : [48, 126];
  return z
    .string()
    .max(50)
    .transform((v, ctx) => {
      const c = parseCidr(v);
      if (!c || c.ip.family !== family) {
        ctx.addIssue({
          code: "custom",
          message: `not an IPv${family} prefix (expected e.g. ${family === 4 ? "10.8.0.1/24" : "fd00:8::1/64"})`,
        });
        return z.NEVER;
      }
      if (c.prefix < min || c.prefix > max) {
        ctx.addIssue({ code: "custom", message: `prefix length must be between /${min} and /${max}` });
        return z.NEVER;
      }
      return `${c.ip.text}/${c.prefix}`;
    })
    .describe(
      `IPv${family} subnet of the tunnel (/${min}–/${max}). Written as the gateway's own address with the prefix (${family === 4 ? "10.8.0.1/24" : "fd00:8::1/64"}); a network address (${family === 4 ? "10.8.0.0/24" : "fd00:8::/64"}) means the gateway takes the first host.`,
    );
}

/** A routed prefix (extra allowed IPs): canonical network, no host bits. */
export const WgAllowedIp = z
  .string()
  .max(50)
  .transform((v, ctx) => {
    const c = parseCidr(v) ?? (parseIp(v) ? parseCidr(`${v}/${v.includes(":") ? 128 : 32}`) : undefined);
    if (!c) {
      ctx.addIssue({
        code: "custom",
        message: `'${printable(v).join("").slice(0, 52)}' is not an IP prefix`,
      });
      return z.NEVER;
    }
    if (c.network.value !== c.ip.value) {
      ctx.addIssue({ code: "custom", message: `${v} has host bits set; did you mean ${c.text}?` });
      return z.NEVER;
    }
    return c.text;
  })
  .describe("An IP prefix in CIDR notation (`192.168.50.0/24`); a bare address means /32 or /128.");

export const WgTag = z
  .string()
  .superRefine((v, ctx) => {
    if (/^[a-z0-9][a-z0-9_.:-]{0,31}$/.test(v)) return;
    ctx.addIssue({
      code: "custom",
      message:
        v.length === 0 || v.length > 32
          ? "tag must be 1–32 characters"
          : `tag has ${badChar(v, /[a-z0-9_.:-]/) ?? "an invalid first character"}; only a-z, 0-9, '_', '.', ':', '-' are allowed`,
    });
  })
  .describe("A tag: 1–32 characters of a-z, 0-9, '_', '.', ':', '-'.");

export const WgListenPort = z.number().int().min(1).max(65535).describe("UDP port WireGuard listens on.");
export const WgMtu = z.number().int().min(1280).max(9000).describe("MTU of the tunnel (1280–9000).");
export const WgKeepalive = z
  .number()
  .int()
  .min(0)
  .max(65535)
  .describe("Persistent keepalive in seconds for clients; 0 = off.");

/** A timestamp in ISO 8601 with an offset; stored and returned as UTC. */
export const WgTimestamp = z.iso
  .datetime({ offset: true })
  .transform((v) => new Date(v).toISOString())
  .describe("ISO 8601 timestamp (e.g. `2030-01-01T00:00:00Z`).");

/** Free-text search: no control characters, bounded. */
export const WgSearch = z
  .string()
  .superRefine((v, ctx) => {
    if (/^[A-Za-z0-9._:/+=@ -]{1,64}$/.test(v)) return;
    ctx.addIssue({
      code: "custom",
      message:
        v.length === 0 || v.length > 64
          ? "search must be 1–64 characters"
          : `search has ${badChar(v, /[A-Za-z0-9._:/+=@ -]/)}`,
    });
  })
  .describe("Substring of a peer's name, id, tag, address or public key (1–64 characters).");
