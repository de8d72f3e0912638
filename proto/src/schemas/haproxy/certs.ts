/**
 * HAProxy certificate files of a cluster: BYO certificates (full chain + key, one PEM that
 * haproxy's `crt` loads), trusted CA bundles (`ca-file`) and CRLs (`crl-file`). They are
 * stored per cluster in the NATS object store and referenced from the state document by
 * name (`FileRef`); `certReferenceIssues` turns a reference to a missing file into a 422.
 */
import { z } from "zod";
import type { FieldIssue } from "../../errors.ts";
import { nameSchema } from "../../names.ts";
import { FileRef } from "./primitives.ts";
import type { StateDocument } from "./state.ts";

const Pem = (what: string) =>
  z
    .string()
    .min(1)
    .max(256 * 1024)
    .describe(`${what}, PEM.`);

export const CertNameParams = z.object({
  cluster: nameSchema("cluster"),
  name: FileRef.describe("Certificate name."),
});
export const TrustedIdParams = z.object({
  cluster: nameSchema("cluster"),
  id: FileRef.describe("CA bundle or CRL id."),
});

export const ByoCertBody = z
  .strictObject({
    name: FileRef.describe("Certificate name: what binds reference in `tls.certificates`."),
    fullchain_pem: Pem("Leaf certificate first, then its intermediates in issuing order").optional(),
    privkey_pem: Pem("The leaf's private key (unencrypted)").optional(),
    fullchainPem: Pem("PatchPanel spelling of `fullchain_pem`").optional(),
    privkeyPem: Pem("PatchPanel spelling of `privkey_pem`").optional(),
  })
  .describe("A BYO certificate: `{name, fullchain_pem, privkey_pem}` (PatchPanel's camelCase accepted).");
export type ByoCertBody = z.infer<typeof ByoCertBody>;

export const CertInfo = z
  .object({
    subject: z.string().describe("Subject DN."),
    issuer: z.string().describe("Issuer DN."),
    serial: z.string().describe("Serial number (hex)."),
    not_before: z.string().describe("Valid from (ISO 8601)."),
    not_after: z.string().describe("Valid until (ISO 8601)."),
    fingerprint_sha256: z.string().describe("SHA-256 fingerprint of the DER certificate (colon hex)."),
    ca: z.boolean().describe("basicConstraints CA:TRUE."),
  })
  .describe("One parsed certificate.");

export const ByoCertInfo = z
  .object({
    name: FileRef,
    domains: z.array(z.string()).describe("DNS names and IP addresses of the leaf's subjectAltName."),
    not_after: z.string().describe("Expiry of the leaf (ISO 8601)."),
    days_left: z.number().int().describe("Whole days until the leaf expires (negative: expired)."),
    fingerprint_sha256: z.string().describe("SHA-256 fingerprint of the leaf."),
    key_type: z.string().describe("Private key type (`rsa`, `ec`, `ed25519`, …)."),
    chain: z.array(CertInfo).describe("The full chain, leaf first."),
    warnings: z.array(z.string()).describe("Problems that do not stop haproxy from serving it."),
    uploaded_at: z.string().optional().describe("When it was stored (ISO 8601)."),
  })
  .describe("A validated BYO certificate.");
export type ByoCertInfo = z.infer<typeof ByoCertInfo>;

export const ByoCertList = z.object({ items: z.array(ByoCertInfo).describe("Stored BYO certificates.") });

export const TrustedBody = z
  .strictObject({
    id: FileRef.describe("Id: what binds and servers reference (`client_ca`, `client_crl`, `ca`)."),
    pem: Pem("CA bundle (one or more certificates) or CRL"),
  })
  .describe("A trusted CA bundle or CRL.");

export const TrustedCaInfo = z
  .object({
    id: FileRef,
    fingerprint_sha256: z.string().describe("SHA-256 of the first certificate of the bundle."),
    certificates: z.array(CertInfo).describe("Every certificate of the bundle."),
    warnings: z.array(z.string()).describe("Non-fatal problems (not a CA, expired)."),
    uploaded_at: z.string().optional().describe("When it was stored (ISO 8601)."),
  })
  .describe("A trusted CA bundle.");
export const TrustedCaList = z.object({ items: z.array(TrustedCaInfo).describe("Stored CA bundles.") });

export const CrlInfo = z
  .object({
    id: FileRef,
    fingerprint_sha256: z.string().describe("SHA-256 fingerprint of the DER CRL (colon hex)."),
    issuer: z.string().describe("Issuer DN (as in the CRL, attribute=value pairs)."),
    this_update: z.string().describe("thisUpdate (ISO 8601)."),
    next_update: z.string().nullable().describe("nextUpdate (ISO 8601), if present."),
    revoked: z.number().int().describe("Number of revoked certificates listed."),
    warnings: z.array(z.string()).describe("Non-fatal problems (stale: nextUpdate passed)."),
    uploaded_at: z.string().optional().describe("When it was stored (ISO 8601)."),
  })
  .describe("A trusted CRL.");
export const CrlList = z.object({ items: z.array(CrlInfo).describe("Stored CRLs.") });

export const CertDeleteReply = z.object({
  deleted: z.boolean().describe("Whether it existed."),
  name: z.string().describe("Name or id removed."),
});

export const CertStatusQuery = z.object({
  days: z.coerce
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(30)
    .describe("`expiring` when the certificate expires within this many days."),
  node: nameSchema("node").optional().describe("Only this node (default: every online node)."),
});

export const CertStatusItem = z
  .object({
    node: z.string().describe("Node."),
    kind: z.enum(["crt", "ca", "crl"]).describe("BYO certificate, CA bundle or CRL."),
    name: z.string().describe("Name or id."),
    status: z
      .enum(["ok", "expiring", "expired", "unloadable", "missing"])
      .describe("From the file on the node (and, for `crt`, haproxy's own view of it)."),
    loaded: z.boolean().describe("Known to the running haproxy (`show ssl cert|ca-file|crl-file`)."),
    not_after: z.string().nullable().describe("Expiry (CRL: nextUpdate)."),
    days_left: z.number().int().nullable().describe("Whole days until expiry."),
    fingerprint_sha256: z.string().nullable().describe("Fingerprint of the file on the node."),
    error: z.string().nullable().describe("Why it is unloadable or missing."),
  })
  .describe("A certificate file's live status on one node.");
export const CertStatusReply = z.object({
  days: z.number().int().describe("The expiring threshold used."),
  items: z.array(CertStatusItem).describe("Per node and file."),
  nodes: z
    .array(z.object({ node: z.string(), ok: z.boolean(), error: z.string().nullable() }))
    .describe("Which nodes answered."),
});

/** Node request: write the cluster's files from the object store, apply changed ones. */
export const NodeCertSyncRequest = z.object({
  kind: z.enum(["crt", "ca", "crl"]).describe("What changed."),
  name: FileRef.describe("Which file changed."),
});
export const NodeCertSyncReply = z.object({
  node: z.string(),
  ok: z.boolean(),
  applied: z.enum(["none", "runtime", "reload"]).describe("How a referenced file reached haproxy."),
  message: z.string(),
});

/** The names of the files a document references, per kind, with the fields referencing them. */
export function certReferences(
  doc: StateDocument,
): Array<{ kind: "crt" | "ca" | "crl"; name: string; field: string }> {
  const out: Array<{ kind: "crt" | "ca" | "crl"; name: string; field: string }> = [];
  const proxies = [
    ...doc.frontends.map((p, i) => ({ p, path: `frontends.${i}` })),
    ...doc.listens.map((p, i) => ({ p, path: `listens.${i}` })),
  ];
  for (const { p, path } of proxies) {
    (p.binds ?? []).forEach((b, j) => {
      const t = b.tls;
      if (!t) return;
      t.certificates.forEach((c, k) => {
        out.push({ kind: "crt", name: c, field: `${path}.binds.${j}.tls.certificates.${k}` });
      });
      if (t.client_ca) out.push({ kind: "ca", name: t.client_ca, field: `${path}.binds.${j}.tls.client_ca` });
      if (t.client_crl)
        out.push({ kind: "crl", name: t.client_crl, field: `${path}.binds.${j}.tls.client_crl` });
    });
  }
  const servers = [
    ...doc.backends.map((b, i) => ({ b, path: `backends.${i}` })),
    ...doc.listens.map((b, i) => ({ b, path: `listens.${i}` })),
  ];
  for (const { b, path } of servers) {
    (b.servers ?? []).forEach((s, j) => {
      if (s.ca) out.push({ kind: "ca", name: s.ca, field: `${path}.servers.${j}.ca` });
    });
  }
  return out;
}

/** 422 issues for references to files the cluster does not have. */
export function certReferenceIssues(
  doc: StateDocument,
  known: { crt: ReadonlySet<string>; ca: ReadonlySet<string>; crl: ReadonlySet<string> },
): FieldIssue[] {
  const what = { crt: "certificate", ca: "trusted CA bundle", crl: "CRL" } as const;
  const where = { crt: "byo-certs", ca: "trusted-cas", crl: "trusted-crls" } as const;
  return certReferences(doc)
    .filter((r) => !known[r.kind].has(r.name))
    .map((r) => ({
      field: r.field,
      message: `${what[r.kind]} '${r.name}' does not exist in this cluster (upload it under ${where[r.kind]} first)`,
      type: "reference",
    }));
}

// ---------------------------------------------------------------- ACME

export const CertIdParams = z.object({
  cluster: nameSchema("cluster"),
  id: FileRef.describe("Certificate id: the name binds reference in `tls.certificates`."),
});

export const RenewAllBody = z
  .strictObject({
    force: z.boolean().default(false).describe("Renew every ACME certificate, due or not."),
  })
  .describe("Renew the cluster's ACME certificates that are due (expiring within the threshold).");

export const RenewOneBody = z
  .strictObject({
    force: z.boolean().default(false).describe("Renew even if it is not due."),
    domains: z
      .array(
        z
          .string()
          .max(253)
          .regex(
            /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
            "a lower-case DNS name",
          ),
      )
      .min(1)
      .max(100)
      .optional()
      .describe("Define (or change) the certificate's names; required the first time."),
  })
  .describe("Issue or renew one ACME certificate.");

export const RenewResult = z
  .object({
    id: z.string().describe("Certificate id."),
    result: z.enum(["issued", "renewed", "skipped", "failed"]).describe("What happened."),
    domains: z.array(z.string()).describe("Names on the certificate."),
    not_after: z.string().nullable().describe("Expiry of the certificate now in place."),
    fingerprint_sha256: z.string().nullable().describe("Fingerprint of the certificate now in place."),
    error: z.string().nullable().describe("Why it failed (the previous certificate stays)."),
    nodes: z
      .array(NodeCertSyncReply)
      .describe("How each node took the new certificate (`runtime`: set/commit ssl cert, no reload)."),
  })
  .describe("One certificate's renewal.");
export const RenewReply = z.object({ items: z.array(RenewResult).describe("Per ACME certificate.") });
