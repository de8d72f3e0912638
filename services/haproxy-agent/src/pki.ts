/**
 * Parsing and validation of certificate files with `node:crypto` only: BYO certificates
 * (the key matches the leaf, each certificate is issued by the next, nothing expired, SANs),
 * trusted CA bundles, and CRLs (a small DER walk: `node:crypto` has no CRL parser). Problems
 * are field issues naming the field and the problem; nothing here touches disk.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import type { FieldIssue } from "@edgeplane/proto";

const DAY = 86_400_000;

export interface CertSummary {
  subject: string;
  issuer: string;
  serial: string;
  not_before: string;
  not_after: string;
  fingerprint_sha256: string;
  ca: boolean;
}

const oneLine = (dn: string) => dn.split("\n").filter(Boolean).join(", ");
const iso = (d: string) => new Date(d).toISOString();

export function summary(c: X509Certificate): CertSummary {
  return {
    subject: oneLine(c.subject),
    issuer: oneLine(c.issuer),
    serial: c.serialNumber,
    not_before: iso(c.validFrom),
    not_after: iso(c.validTo),
    fingerprint_sha256: c.fingerprint256,
    ca: c.ca,
  };
}

/** PEM blocks of one label, in order. */
export function pemBlocks(pem: string, label: string): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, "g");
  return [...pem.matchAll(re)].map((m) => `${m[0]}\n`);
}

export const daysLeft = (notAfter: string, now = Date.now()) =>
  Math.floor((Date.parse(notAfter) - now) / DAY);

class Issues {
  list: FieldIssue[] = [];
  add(field: string, message: string, type = "invalid_certificate") {
    this.list.push({ field, message, type });
  }
}

function parseCerts(pem: string, field: string, issues: Issues): X509Certificate[] {
  const blocks = pemBlocks(pem, "CERTIFICATE");
  if (blocks.length === 0) {
    issues.add(field, "no PEM certificate (-----BEGIN CERTIFICATE-----) found");
    return [];
  }
  const out: X509Certificate[] = [];
  blocks.forEach((b, i) => {
    try {
      out.push(new X509Certificate(b));
    } catch (err) {
      issues.add(field, `certificate #${i + 1} does not parse: ${(err as Error).message}`);
    }
  });
  return out;
}

const spki = (k: KeyObject) =>
  createHash("sha256")
    .update(k.export({ type: "spki", format: "der" }))
    .digest("hex");

/** SANs as `DNS:a, IP Address:1.2.3.4` → `["a", "1.2.3.4"]`. */
export function sans(c: X509Certificate): string[] {
  return (c.subjectAltName ?? "")
    .split(/,\s*/)
    .map((s) => /^(?:DNS|IP Address):(.+)$/.exec(s.trim())?.[1] ?? "")
    .filter(Boolean);
}

export interface ByoParsed {
  domains: string[];
  not_after: string;
  days_left: number;
  fingerprint_sha256: string;
  key_type: string;
  chain: CertSummary[];
  warnings: string[];
  /** What haproxy's `crt` loads: the chain, then the key. */
  pem: string;
}

/**
 * Validate a full chain + key. Field issues on `fullchain_pem` / `privkey_pem`; an empty
 * issue list means haproxy can serve it.
 */
export function validateByo(
  fullchain: string,
  privkey: string,
  now = Date.now(),
): { issues: FieldIssue[]; parsed: ByoParsed | null } {
  const issues = new Issues();
  const chain = parseCerts(fullchain, "fullchain_pem", issues);
  if (pemBlocks(fullchain, "[A-Z ]*PRIVATE KEY").length > 0)
    issues.add("fullchain_pem", "contains a private key: send it in privkey_pem");
  let key: KeyObject | null = null;
  const keyBlocks = pemBlocks(privkey, "[A-Z ]*PRIVATE KEY");
  if (/ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(privkey))
    issues.add("privkey_pem", "the private key is encrypted: haproxy needs it unencrypted");
  else if (keyBlocks.length !== 1)
    issues.add(
      "privkey_pem",
      keyBlocks.length === 0
        ? "no PEM private key block (BEGIN … PRIVATE KEY) found"
        : "more than one private key",
    );
  else {
    try {
      key = createPrivateKey(keyBlocks[0] as string);
    } catch (err) {
      issues.add("privkey_pem", `the private key does not parse: ${(err as Error).message}`);
    }
  }
  const leaf = chain[0];
  if (leaf && key) {
    const a = spki(leaf.publicKey);
    const b = spki(createPublicKey(key));
    if (a !== b)
      issues.add(
        "privkey_pem",
        `private key does not match the leaf certificate (${oneLine(leaf.subject)}): the leaf's public key is sha256:${a.slice(0, 16)}…, the key's is sha256:${b.slice(0, 16)}…`,
        "key_mismatch",
      );
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const c = chain[i] as X509Certificate;
    const next = chain[i + 1] as X509Certificate;
    if (!c.checkIssued(next) || !c.verify(next.publicKey))
      issues.add(
        "fullchain_pem",
        `chain order: certificate #${i + 1} (${oneLine(c.subject)}) is not issued by certificate #${i + 2} (${oneLine(next.subject)}); send the leaf first, then each issuer`,
        "chain_order",
      );
  }
  chain.forEach((c, i) => {
    const what = i === 0 ? "the leaf certificate" : `certificate #${i + 1} (${oneLine(c.subject)})`;
    if (Date.parse(c.validTo) <= now)
      issues.add("fullchain_pem", `${what} expired on ${iso(c.validTo)}`, "expired");
    else if (Date.parse(c.validFrom) > now)
      issues.add("fullchain_pem", `${what} is not valid before ${iso(c.validFrom)}`, "not_yet_valid");
  });
  if (leaf?.ca)
    issues.add("fullchain_pem", "the first certificate is a CA: put the leaf first", "chain_order");
  if (issues.list.length > 0 || !leaf || !key) return { issues: issues.list, parsed: null };
  const warnings: string[] = [];
  const domains = sans(leaf);
  if (domains.length === 0)
    warnings.push("the leaf has no subjectAltName: clients match names only against SANs");
  const last = chain[chain.length - 1] as X509Certificate;
  if (chain.length > 1 && last.checkIssued(last))
    warnings.push("the chain includes the self-signed root: clients ignore it (harmless, extra bytes)");
  const left = daysLeft(leaf.validTo, now);
  if (left < 30) warnings.push(`the leaf expires in ${left} days`);
  const chainPem = chain.map((c) => c.toString().trim()).join("\n");
  return {
    issues: [],
    parsed: {
      domains,
      not_after: iso(leaf.validTo),
      days_left: left,
      fingerprint_sha256: leaf.fingerprint256,
      key_type: key.asymmetricKeyType ?? "unknown",
      chain: chain.map(summary),
      warnings,
      pem: `${chainPem}\n${(keyBlocks[0] as string).trim()}\n`,
    },
  };
}

/** A trusted CA bundle: one or more certificates. */
export function validateCa(
  pem: string,
  now = Date.now(),
): { issues: FieldIssue[]; certificates: CertSummary[]; warnings: string[]; pem: string } {
  const issues = new Issues();
  const certs = parseCerts(pem, "pem", issues);
  if (pemBlocks(pem, "[A-Z ]*PRIVATE KEY").length > 0)
    issues.add("pem", "contains a private key: a trusted CA bundle holds certificates only");
  const warnings: string[] = [];
  certs.forEach((c, i) => {
    if (!c.ca) warnings.push(`certificate #${i + 1} (${oneLine(c.subject)}) is not a CA (basicConstraints)`);
    if (Date.parse(c.validTo) <= now)
      warnings.push(`certificate #${i + 1} (${oneLine(c.subject)}) expired on ${iso(c.validTo)}`);
  });
  return {
    issues: issues.list,
    certificates: certs.map(summary),
    warnings,
    pem: `${certs.map((c) => c.toString().trim()).join("\n")}\n`,
  };
}

// ---- CRL: a minimal DER walk (RFC 5280 CertificateList)

interface Tlv {
  tag: number;
  start: number;
  end: number;
  hdr: number;
}
function tlv(b: Buffer, at: number): Tlv {
  if (at + 2 > b.length) throw new Error("truncated DER");
  const tag = b[at] as number;
  let len = b[at + 1] as number;
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4 || at + 2 + n > b.length) throw new Error("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[at + 2 + i] as number);
    hdr += n;
  }
  const end = at + hdr + len;
  if (end > b.length) throw new Error("truncated DER");
  return { tag, start: at + hdr, end, hdr };
}
function children(b: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = t.start; at < t.end; ) {
    const c = tlv(b, at);
    out.push(c);
    at = c.end;
  }
  return out;
}
function derTime(b: Buffer, t: Tlv): string {
  const s = b.subarray(t.start, t.end).toString("latin1");
  const m =
    t.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new Error(`bad time '${s}'`);
  let y = Number(m[1]);
  if (t.tag === 0x17) y += y < 50 ? 2000 : 1900;
  return new Date(
    Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  ).toISOString();
}
const OIDS: Record<string, string> = { "2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C" };
function oid(b: Buffer): string {
  const parts: number[] = [Math.floor((b[0] as number) / 40), (b[0] as number) % 40];
  let v = 0;
  for (const x of b.subarray(1)) {
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}
function derName(b: Buffer, t: Tlv): string {
  const out: string[] = [];
  for (const set of children(b, t))
    for (const atv of children(b, set)) {
      const [o, v] = children(b, atv);
      if (!o || !v) continue;
      const id = oid(b.subarray(o.start, o.end));
      out.push(`${OIDS[id] ?? id}=${b.subarray(v.start, v.end).toString("utf8")}`);
    }
  return out.join(", ");
}

export interface CrlParsed {
  fingerprint_sha256: string;
  issuer: string;
  this_update: string;
  next_update: string | null;
  revoked: number;
  warnings: string[];
  pem: string;
}

export function validateCrl(
  pem: string,
  now = Date.now(),
): { issues: FieldIssue[]; parsed: CrlParsed | null } {
  const blocks = pemBlocks(pem, "X509 CRL");
  if (blocks.length !== 1)
    return {
      issues: [
        {
          field: "pem",
          message: blocks.length === 0 ? "no PEM CRL (-----BEGIN X509 CRL-----) found" : "one CRL per upload",
          type: "invalid_crl",
        },
      ],
      parsed: null,
    };
  const block = blocks[0] as string;
  try {
    const der = Buffer.from(block.replace(/-----[A-Z0-9 ]+-----/g, "").replace(/\s+/g, ""), "base64");
    const outer = tlv(der, 0);
    if (outer.tag !== 0x30 || outer.end !== der.length) throw new Error("not a DER SEQUENCE");
    const [tbs] = children(der, outer);
    if (tbs?.tag !== 0x30) throw new Error("no tbsCertList");
    const f = children(der, tbs);
    let i = 0;
    if (f[i]?.tag === 0x02) i++; // version
    i++; // signature AlgorithmIdentifier
    const issuerT = f[i++];
    const thisT = f[i++];
    if (!issuerT || !thisT) throw new Error("truncated tbsCertList");
    let next: string | null = null;
    if (f[i] && (f[i]?.tag === 0x17 || f[i]?.tag === 0x18)) next = derTime(der, f[i++] as Tlv);
    const revokedT = f[i]?.tag === 0x30 ? f[i] : undefined;
    const parsed: CrlParsed = {
      fingerprint_sha256: createHash("sha256")
        .update(der)
        .digest("hex")
        .toUpperCase()
        .replace(/(..)(?!$)/g, "$1:"),
      issuer: derName(der, issuerT),
      this_update: derTime(der, thisT),
      next_update: next,
      revoked: revokedT ? children(der, revokedT).length : 0,
      warnings: [],
      pem: block,
    };
    if (next && Date.parse(next) < now)
      parsed.warnings.push(`stale: nextUpdate ${next} has passed (haproxy still loads it)`);
    return { issues: [], parsed };
  } catch (err) {
    return {
      issues: [
        { field: "pem", message: `the CRL does not parse: ${(err as Error).message}`, type: "invalid_crl" },
      ],
      parsed: null,
    };
  }
}
