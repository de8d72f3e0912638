/** Building principals from the store: the role and scope always come from the user row. */
import type { Principal, ResourceScope, Role } from "@edgeplane/proto";
import { RolePerms } from "@edgeplane/proto";

export interface UserRow {
  id: string;
  username: string;
  role: Role;
  resources: ResourceScope | null;
  token_version: number;
  mfa_enabled: boolean;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export const USER_COLUMNS =
  "id, username, role, resources, token_version, mfa_enabled, created_at, updated_at, deleted_at";

export function userPrincipal(
  u: UserRow,
  kind: "session" | "jwt",
  extra: Partial<Principal> = {},
): Principal {
  return {
    kind,
    user_id: u.id,
    username: u.username,
    role: u.role,
    permissions: [...RolePerms[u.role]] as Principal["permissions"],
    resources: u.resources,
    ...extra,
  };
}

export function userView(u: UserRow) {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    resources: u.resources,
    mfa_enabled: u.mfa_enabled,
    created_at: u.created_at.toISOString(),
    updated_at: u.updated_at.toISOString(),
    deleted_at: u.deleted_at ? u.deleted_at.toISOString() : null,
  };
}
