/**
 * Permissions and roles. A route names one permission; a principal carries the set its
 * role (or its API key's scopes) grants. Roles are ordered: a principal may only grant
 * a role strictly below its own.
 */

export const Perm = {
  HaproxyRead: "haproxy:read",
  HaproxyStateWrite: "haproxy:state-write",
  HaproxyRaw: "haproxy:raw",
  HaproxyRuntime: "haproxy:runtime",
  HaproxyControl: "haproxy:control",
  CertsWrite: "certs:write",
  WgRead: "wg:read",
  WgWrite: "wg:write",
  AdaptersRead: "adapters:read",
  AdaptersStage: "adapters:stage",
  AdaptersApply: "adapters:apply",
  StatsRead: "stats:read",
  EventsRead: "events:read",
  AuditRead: "audit:read",
  UsersAdmin: "users:admin",
  KeysManage: "keys:manage",
  MeshRead: "mesh:read",
} as const;
export type Perm = (typeof Perm)[keyof typeof Perm];
export const ALL_PERMS: readonly Perm[] = Object.freeze(Object.values(Perm));

/** PatchPanel key scopes accepted as aliases of edgeplane permissions. */
export const PermAliases: Readonly<Record<string, readonly Perm[]>> = Object.freeze({
  read: [Perm.HaproxyRead, Perm.StatsRead],
  "state-write": [Perm.HaproxyStateWrite],
  "cert-renew": [Perm.CertsWrite],
  "runtime-control": [Perm.HaproxyRuntime],
  "haproxy-control": [Perm.HaproxyControl],
});

/** Expand a list of scopes (permissions or aliases) to permissions; unknown names are returned apart. */
export function expandScopes(scopes: readonly string[]): { perms: Perm[]; unknown: string[] } {
  const out = new Set<Perm>();
  const unknown: string[] = [];
  for (const s of scopes) {
    if ((ALL_PERMS as readonly string[]).includes(s)) out.add(s as Perm);
    else if (s in PermAliases) for (const p of PermAliases[s] ?? []) out.add(p);
    else unknown.push(s);
  }
  return { perms: [...out].sort(), unknown };
}

export const Role = { Owner: "owner", Admin: "admin", Operator: "operator", Viewer: "viewer" } as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLES: readonly Role[] = Object.freeze([Role.Owner, Role.Admin, Role.Operator, Role.Viewer]);

/** Higher is more powerful. */
export const RoleLevel: Readonly<Record<Role, number>> = Object.freeze({
  owner: 100,
  admin: 80,
  operator: 40,
  viewer: 10,
});

const viewer: Perm[] = [
  Perm.HaproxyRead,
  Perm.WgRead,
  Perm.AdaptersRead,
  Perm.StatsRead,
  Perm.EventsRead,
  Perm.MeshRead,
];
const operator: Perm[] = [
  ...viewer,
  Perm.HaproxyStateWrite,
  Perm.HaproxyRuntime,
  Perm.HaproxyControl,
  Perm.CertsWrite,
  Perm.WgWrite,
  Perm.AdaptersStage,
  Perm.AdaptersApply,
  Perm.KeysManage,
];
const admin: Perm[] = [...operator, Perm.HaproxyRaw, Perm.AuditRead, Perm.UsersAdmin];

/** What each role may do. Owners and admins differ in what they may grant, not in permissions. */
export const RolePerms: Readonly<Record<Role, readonly Perm[]>> = Object.freeze({
  owner: Object.freeze([...admin].sort()),
  admin: Object.freeze([...admin].sort()),
  operator: Object.freeze([...operator].sort()),
  viewer: Object.freeze([...viewer].sort()),
});

/** True when `actor` may grant `target` (strictly below its own role). */
export function canGrant(actor: Role, target: Role): boolean {
  return RoleLevel[target] < RoleLevel[actor];
}
