/**
 * HAProxy certificate files of a cluster under `/api/v1/haproxy/clusters/{cluster}`: BYO
 * certificates, trusted CA bundles and CRLs (list / validate / upload / delete) and the
 * live status per node, plus PatchPanel's `/api/byo-certs*`, `/api/trusted-cas*`,
 * `/api/trusted-crls*` and `/api/certificates` on the `default` cluster.
 *
 * Any agent of the cluster answers (queue group); an upload is stored in the cluster's
 * object store and every online node is asked to write the file and hand it to haproxy.
 */
import type { z } from "zod";
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import { ClusterParams } from "../schemas/haproxy/api.ts";
import {
  ByoCertBody,
  ByoCertInfo,
  ByoCertList,
  CertDeleteReply,
  CertIdParams,
  CertNameParams,
  CertStatusQuery,
  CertStatusReply,
  CrlInfo,
  CrlList,
  RenewAllBody,
  RenewOneBody,
  RenewReply,
  TrustedBody,
  TrustedCaInfo,
  TrustedCaList,
  TrustedIdParams,
} from "../schemas/haproxy/certs.ts";
import { defaultClusterAlias } from "./haproxy-compat.ts";
import { defineRoute, type RouteSpec } from "./route.ts";

const P = "/api/v1/haproxy/clusters/{cluster}";
const S = "ep.v1.haproxy.{cluster}";
const scope = { kind: "haproxy_clusters", param: "cluster" } as const;
const common = { tags: ["haproxy-certs"], auth: "principal", scope, timeoutMs: 60_000 } as const;
const stored =
  "Stored in the cluster's object store; every online node writes the file (keys 0600) and hands it to haproxy: `set ssl cert` + `commit ssl cert` where it is already loaded, a reload otherwise. Binds and servers reference it by name.";

export const haproxyByoCertsListRoute = defineRoute({
  ...common,
  id: "haproxy.certs.byo_list",
  method: "GET",
  path: `${P}/byo-certs`,
  summary: "List BYO certificates",
  permission: Perm.HaproxyRead,
  subject: `${S}.certs.byo.list`,
  params: ClusterParams,
  reply: ByoCertList,
});
export const haproxyByoCertsValidateRoute = defineRoute({
  ...common,
  id: "haproxy.certs.byo_validate",
  method: "POST",
  path: `${P}/byo-certs/validate`,
  summary: "Validate a BYO certificate (dry run)",
  description:
    "Parses the chain and key: the key matches the leaf, each certificate is issued by the next, none has expired; SANs are listed. A problem is a 422 naming it.",
  permission: Perm.HaproxyRead,
  subject: `${S}.certs.byo.validate`,
  params: ClusterParams,
  body: ByoCertBody,
  reply: ByoCertInfo,
  errors: [Errors.ValidationFailed],
});
export const haproxyByoCertsUploadRoute = defineRoute({
  ...common,
  id: "haproxy.certs.byo_upload",
  method: "POST",
  path: `${P}/byo-certs/upload`,
  summary: "Upload (or replace) a BYO certificate",
  description: `Validated as in \`validate\`. ${stored}`,
  permission: Perm.CertsWrite,
  subject: `${S}.certs.byo.upload`,
  params: ClusterParams,
  body: ByoCertBody,
  reply: ByoCertInfo,
  errors: [Errors.ValidationFailed],
});
export const haproxyByoCertsDeleteRoute = defineRoute({
  ...common,
  id: "haproxy.certs.byo_delete",
  method: "DELETE",
  path: `${P}/byo-certs/{name}`,
  summary: "Delete a BYO certificate",
  description: "Refused (409) while the current state document references it.",
  permission: Perm.CertsWrite,
  subject: `${S}.certs.byo.delete`,
  params: CertNameParams,
  reply: CertDeleteReply,
  errors: [Errors.NotFound, Errors.Conflict],
});

const trusted = (kind: "cas" | "crls", what: string, info: z.ZodType, list: z.ZodType) => {
  const seg = `trusted-${kind}`;
  const sub = `${S}.certs.${kind}`;
  return {
    list: defineRoute({
      ...common,
      id: `haproxy.certs.${kind}_list`,
      method: "GET",
      path: `${P}/${seg}`,
      summary: `List trusted ${what}s`,
      permission: Perm.HaproxyRead,
      subject: `${sub}.list`,
      params: ClusterParams,
      reply: list,
    }),
    validate: defineRoute({
      ...common,
      id: `haproxy.certs.${kind}_validate`,
      method: "POST",
      path: `${P}/${seg}/validate`,
      summary: `Validate a ${what} (dry run): parse and fingerprint`,
      permission: Perm.HaproxyRead,
      subject: `${sub}.validate`,
      params: ClusterParams,
      body: TrustedBody,
      reply: info,
      errors: [Errors.ValidationFailed],
    }),
    upload: defineRoute({
      ...common,
      id: `haproxy.certs.${kind}_upload`,
      method: "POST",
      path: `${P}/${seg}/upload`,
      summary: `Upload (or replace) a ${what}`,
      description: stored,
      permission: Perm.CertsWrite,
      subject: `${sub}.upload`,
      params: ClusterParams,
      body: TrustedBody,
      reply: info,
      errors: [Errors.ValidationFailed],
    }),
    delete: defineRoute({
      ...common,
      id: `haproxy.certs.${kind}_delete`,
      method: "DELETE",
      path: `${P}/${seg}/{id}`,
      summary: `Delete a ${what}`,
      description: "Refused (409) while the current state document references it.",
      permission: Perm.CertsWrite,
      subject: `${sub}.delete`,
      params: TrustedIdParams,
      reply: CertDeleteReply,
      errors: [Errors.NotFound, Errors.Conflict],
    }),
  };
};
export const haproxyTrustedCaRoutes = trusted("cas", "CA bundle", TrustedCaInfo, TrustedCaList);
export const haproxyTrustedCrlRoutes = trusted("crls", "CRL", CrlInfo, CrlList);

export const haproxyCertStatusRoute = defineRoute({
  ...common,
  id: "haproxy.certs.status",
  method: "GET",
  path: `${P}/certificates`,
  summary: "Live certificate status per node (loadable / expiring / expired)",
  description:
    "Every online node (or `node`) reads the files its running configuration references and asks haproxy which it has loaded.",
  permission: Perm.HaproxyRead,
  subject: `${S}.certs.status`,
  params: ClusterParams,
  query: CertStatusQuery,
  reply: CertStatusReply,
});

const acme =
  "ACME (HTTP-01, answered by the cluster's haproxies themselves: every HTTP frontend with a clear-text bind answers `/.well-known/acme-challenge/` statelessly). The new certificate is stored like a BYO one under the same id and reaches every node with `set ssl cert` + `commit ssl cert` (no reload). Renewals are also scheduled: due certificates are renewed before they expire. A failure keeps the previous certificate and is a `haproxy.cert.renewal_failed` event.";
export const haproxyCertRenewAllRoute = defineRoute({
  ...common,
  timeoutMs: 300_000,
  id: "haproxy.certs.renew_all",
  method: "POST",
  path: `${P}/certificates/renew`,
  summary: "Renew the ACME certificates that are due (`force`: all)",
  description: acme,
  permission: Perm.CertsWrite,
  subject: `${S}.certs.renew-all`,
  params: ClusterParams,
  body: RenewAllBody,
  reply: RenewReply,
  errors: [Errors.ServiceUnavailable],
});
export const haproxyCertRenewRoute = defineRoute({
  ...common,
  timeoutMs: 300_000,
  id: "haproxy.certs.renew",
  method: "POST",
  path: `${P}/certificates/{id}/renew`,
  summary: "Issue or renew one ACME certificate",
  description: `${acme} The first call names the certificate's \`domains\`.`,
  permission: Perm.CertsWrite,
  subject: `${S}.certs.renew`,
  params: CertIdParams,
  body: RenewOneBody,
  reply: RenewReply,
  errors: [Errors.NotFound, Errors.ServiceUnavailable],
});

// ---- PatchPanel compatibility: the same subjects, on the default cluster.

export const haproxyCertCompatRoutes: readonly RouteSpec[] = [
  defaultClusterAlias(haproxyByoCertsListRoute, "patchpanel.byo_certs.list", "/api/byo-certs"),
  defaultClusterAlias(
    haproxyByoCertsValidateRoute,
    "patchpanel.byo_certs.validate",
    "/api/byo-certs/validate",
  ),
  defaultClusterAlias(haproxyByoCertsUploadRoute, "patchpanel.byo_certs.upload", "/api/byo-certs/upload"),
  defaultClusterAlias(haproxyByoCertsDeleteRoute, "patchpanel.byo_certs.delete", "/api/byo-certs/{name}"),
  ...(["cas", "crls"] as const).flatMap((k) => {
    const r = k === "cas" ? haproxyTrustedCaRoutes : haproxyTrustedCrlRoutes;
    const base = `/api/trusted-${k}`;
    return [
      defaultClusterAlias(r.list, `patchpanel.trusted_${k}.list`, base),
      defaultClusterAlias(r.validate, `patchpanel.trusted_${k}.validate`, `${base}/validate`),
      defaultClusterAlias(r.upload, `patchpanel.trusted_${k}.upload`, `${base}/upload`),
      defaultClusterAlias(r.delete, `patchpanel.trusted_${k}.delete`, `${base}/{id}`),
    ];
  }),
  defaultClusterAlias(haproxyCertStatusRoute, "patchpanel.certificates.status", "/api/certificates"),
  defaultClusterAlias(
    haproxyCertRenewAllRoute,
    "patchpanel.certificates.renew_all",
    "/api/certificates/renew",
  ),
  defaultClusterAlias(haproxyCertRenewRoute, "patchpanel.certificates.renew", "/api/certificates/{id}/renew"),
];

export const haproxyCertRoutes: readonly RouteSpec[] = [
  haproxyByoCertsListRoute,
  haproxyByoCertsValidateRoute,
  haproxyByoCertsUploadRoute,
  haproxyByoCertsDeleteRoute,
  ...Object.values(haproxyTrustedCaRoutes),
  ...Object.values(haproxyTrustedCrlRoutes),
  haproxyCertStatusRoute,
  haproxyCertRenewAllRoute,
  haproxyCertRenewRoute,
  ...haproxyCertCompatRoutes,
];
