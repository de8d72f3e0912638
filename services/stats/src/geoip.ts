/**
 * GeoIP: the `maxmind` reader on an mmdb file — the combined IPv4+IPv6 GeoLite2 country
 * database shipped by `@ip-location-db/geolite2-country-mmdb` by default, or a configured
 * path (a MaxMind GeoLite2/GeoIP2 Country/City database; an optional ASN database beside
 * it). Private and reserved ranges are labelled before any database lookup. The files are
 * watched and reloaded when they change; a configured file that cannot be read falls back
 * to the bundled database (and says so in the status).
 *
 * Used on the main thread (status, small lookups) and in every pool worker.
 */

import { stat, unwatchFile, watchFile } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { BlockList, isIP } from "node:net";
import { Reader } from "maxmind";

const require = createRequire(import.meta.url);
export const BUNDLED_MMDB = require.resolve("@ip-location-db/geolite2-country-mmdb/geolite2-country.mmdb");

export type Label = "public" | "private" | "reserved";
export interface Geo {
  label: Label;
  range: string | null;
  country: string | null;
  asn: number | null;
  as_org: string | null;
}

interface RangeDef {
  label: Exclude<Label, "public">;
  range: string;
  v4?: Array<[string, number]>;
  v6?: Array<[string, number]>;
}
const RANGES: RangeDef[] = [
  { label: "private", range: "loopback", v4: [["127.0.0.0", 8]], v6: [["::1", 128]] },
  {
    label: "private",
    range: "rfc1918",
    v4: [
      ["10.0.0.0", 8],
      ["172.16.0.0", 12],
      ["192.168.0.0", 16],
    ],
  },
  { label: "private", range: "ula", v6: [["fc00::", 7]] },
  { label: "private", range: "link-local", v4: [["169.254.0.0", 16]], v6: [["fe80::", 10]] },
  { label: "private", range: "cgnat", v4: [["100.64.0.0", 10]] },
  { label: "reserved", range: "unspecified", v4: [["0.0.0.0", 8]], v6: [["::", 128]] },
  { label: "reserved", range: "multicast", v4: [["224.0.0.0", 4]], v6: [["ff00::", 8]] },
  {
    label: "reserved",
    range: "documentation",
    v4: [
      ["192.0.2.0", 24],
      ["198.51.100.0", 24],
      ["203.0.113.0", 24],
    ],
    v6: [["2001:db8::", 32]],
  },
  { label: "reserved", range: "benchmarking", v4: [["198.18.0.0", 15]], v6: [["2001:2::", 48]] },
  { label: "reserved", range: "ietf-protocol", v4: [["192.0.0.0", 24]], v6: [["2001::", 23]] },
  { label: "reserved", range: "future-use", v4: [["240.0.0.0", 4]] },
  { label: "reserved", range: "discard-only", v6: [["100::", 64]] },
];
const LISTS = RANGES.map((r) => {
  const b = new BlockList();
  for (const [a, p] of r.v4 ?? []) b.addSubnet(a, p, "ipv4");
  for (const [a, p] of r.v6 ?? []) b.addSubnet(a, p, "ipv6");
  return { def: r, b };
});

const PUBLIC = Object.freeze({ label: "public" as Label, range: null });
const V4_RANGES: Array<[number, number, { label: Label; range: string }]> = RANGES.flatMap((r) =>
  (r.v4 ?? []).map(([a, p]): [number, number, { label: Label; range: string }] => {
    const n = a.split(".").reduce((x, o) => x * 256 + Number(o), 0);
    const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
    return [n & mask, mask, { label: r.label, range: r.range }];
  }),
);

/** Dotted-quad → uint32, or -1 (fast path; no allocation). */
function v4(ip: string): number {
  let n = 0;
  let o = 0;
  let dots = 0;
  let digits = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || o > 255) return -1;
      n = n * 256 + o;
      o = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      o = o * 10 + (c - 48);
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || o > 255) return -1;
  return n * 256 + o;
}

/** The special range of an address, or null for a public one. Mapped IPv4 (::ffff:a.b.c.d) is judged as IPv4. */
export function classify(ip: string): { label: Label; range: string | null } | null {
  const n = v4(ip);
  if (n >= 0) {
    for (const [net, mask, r] of V4_RANGES) if ((n & mask) >>> 0 === net) return r;
    return PUBLIC;
  }
  let v = isIP(ip);
  let a = ip;
  if (v === 0) return null;
  if (v === 6 && a.toLowerCase().startsWith("::ffff:") && isIP(a.slice(7)) === 4) {
    a = a.slice(7);
    v = 4;
  }
  const fam = v === 4 ? "ipv4" : "ipv6";
  for (const { def, b } of LISTS) if (b.check(a, fam)) return { label: def.label, range: def.range };
  return PUBLIC;
}

type Rec = Record<string, unknown> | null;
const str = (v: unknown) => (typeof v === "string" ? v : null);

/** Country from a record of any of the supported layouts. */
function countryOf(r: Rec): string | null {
  if (!r) return null;
  const cc = str(r.country_code);
  if (cc) return cc;
  const c = r.country as { iso_code?: unknown } | undefined;
  const rc = r.registered_country as { iso_code?: unknown } | undefined;
  return str(c?.iso_code) ?? str(rc?.iso_code);
}

export interface DbInfo {
  path: string;
  source: "bundled" | "configured";
  type: string;
  buildDate: string;
  records: number;
  ipVersion: number;
  version: string;
}

async function openReader(
  path: string,
): Promise<{ reader: Reader<Record<string, unknown>>; version: string }> {
  const buf = await readFile(path);
  const st = await new Promise<{ mtimeMs: number; size: number }>((res, rej) =>
    stat(path, (e, s) => (e ? rej(e) : res(s))),
  );
  return { reader: new Reader<Record<string, unknown>>(buf), version: `${path}:${st.mtimeMs}:${st.size}` };
}

export interface GeoDbOptions {
  /** Configured database; unset = the bundled one. */
  path?: string | undefined;
  asnPath?: string | undefined;
  /** Watch the files and reload on change (main thread). */
  watch?: boolean;
  watchIntervalMs?: number;
  onReload?: (info: DbInfo) => void;
  onError?: (err: Error) => void;
}

export class GeoDb {
  private reader: Reader<Record<string, unknown>> | null = null;
  private asn: Reader<Record<string, unknown>> | null = null;
  info: DbInfo | null = null;
  asnPath: string | null = null;
  lastReload: Date | null = null;
  reloads = 0;
  fallback: string | null = null;
  lastError: string | null = null;
  private readonly opts: GeoDbOptions;
  private watching: string[] = [];

  constructor(opts: GeoDbOptions = {}) {
    this.opts = opts;
  }

  /** Open (or reopen) the databases. Keeps the previous reader if a reload fails. */
  async load(): Promise<void> {
    const configured = this.opts.path;
    let path = configured ?? BUNDLED_MMDB;
    let source: DbInfo["source"] = configured ? "configured" : "bundled";
    let opened: Awaited<ReturnType<typeof openReader>>;
    try {
      opened = await openReader(path);
      this.fallback = null;
    } catch (err) {
      this.lastError = `${path}: ${(err as Error).message}`;
      this.opts.onError?.(err as Error);
      if (!configured) throw err;
      if (this.reader && this.info?.path === configured) return; // keep serving the last good one
      path = BUNDLED_MMDB;
      source = "bundled";
      opened = await openReader(path);
      this.fallback = `bundled ${BUNDLED_MMDB} (configured database unreadable)`;
    }
    const md = opened.reader.metadata;
    this.reader = opened.reader;
    this.info = {
      path,
      source,
      type: md.databaseType,
      buildDate: md.buildEpoch.toISOString(),
      records: md.nodeCount,
      ipVersion: md.ipVersion,
      version: opened.version,
    };
    if (this.opts.asnPath) {
      try {
        this.asn = (await openReader(this.opts.asnPath)).reader;
        this.asnPath = this.opts.asnPath;
      } catch (err) {
        this.lastError = `${this.opts.asnPath}: ${(err as Error).message}`;
      }
    }
    this.lastReload = new Date();
    this.reloads++;
    this.opts.onReload?.(this.info);
    if (this.opts.watch && this.watching.length === 0) this.startWatching();
  }

  private startWatching(): void {
    const files = [this.opts.path ?? BUNDLED_MMDB, ...(this.opts.asnPath ? [this.opts.asnPath] : [])];
    for (const f of files) {
      watchFile(f, { interval: this.opts.watchIntervalMs ?? 1000, persistent: false }, (cur, prev) => {
        if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
        this.load().catch((err: Error) => {
          this.lastError = err.message;
          this.opts.onError?.(err);
        });
      });
    }
    this.watching = files;
  }

  close(): void {
    for (const f of this.watching) unwatchFile(f);
    this.watching = [];
  }

  /**
   * Enrich many addresses into packed arrays (the pool's result format): range code (see
   * `pool-types.ts`), country as two char codes, ASN (-1 = none).
   */
  lookupPacked(
    ips: readonly string[],
    codes: ReadonlyMap<string, number>,
    out: { labels: Uint8Array; countries: Uint16Array; asns: Int32Array; orgs: Array<string | null> | null },
  ): void {
    for (let i = 0; i < ips.length; i++) {
      const ip = ips[i] as string;
      const cls = classify(ip);
      if (!cls) {
        out.labels[i] = 255;
        continue;
      }
      if (cls.label !== "public") {
        out.labels[i] = codes.get(cls.range ?? "") ?? 255;
        continue;
      }
      out.labels[i] = 0;
      const r = this.reader?.get(ip) ?? null;
      const cc = countryOf(r);
      if (cc) out.countries[i] = (cc.charCodeAt(0) << 8) | cc.charCodeAt(1);
      if (this.asn) {
        const a = this.asn.get(ip);
        const asn = a?.autonomous_system_number;
        if (typeof asn === "number") out.asns[i] = asn;
        if (out.orgs) out.orgs[i] = a ? str(a.autonomous_system_organization) : null;
      }
    }
  }

  /** Enrich one address. */
  lookup(ip: string): Geo {
    const cls = classify(ip);
    if (!cls) return { label: "reserved", range: "invalid", country: null, asn: null, as_org: null };
    if (cls.label !== "public") return { ...cls, country: null, asn: null, as_org: null };
    const r = this.reader?.get(ip) ?? null;
    const a = this.asn?.get(ip) ?? (r && "autonomous_system_number" in r ? r : null);
    const asn = a ? a.autonomous_system_number : null;
    return {
      label: "public",
      range: null,
      country: countryOf(r),
      asn: typeof asn === "number" ? asn : null,
      as_org: a ? str(a.autonomous_system_organization) : null,
    };
  }
}
