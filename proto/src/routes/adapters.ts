/**
 * Vendor adapters: controllers, live reads and the staged-write pipeline, answered by
 * the adapters workers (queue group). Device-touching routes get longer NATS timeouts
 * than the default; each is still bounded by the workers' own device timeouts.
 */
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import {
  AdapterApplyBody,
  AdapterChangeList,
  AdapterChangeListQuery,
  AdapterChangeParams,
  AdapterChangeView,
  AdapterControllerCreate,
  AdapterControllerFeatureParams,
  AdapterControllerList,
  AdapterControllerListQuery,
  AdapterControllerParams,
  AdapterControllerTestResult,
  AdapterControllerUpdate,
  AdapterControllerView,
  AdapterLiveRead,
  AdapterStageBody,
  AdapterStageQuery,
  AdapterVendorList,
} from "../schemas/adapters.ts";
import { Empty } from "../schemas/common.ts";
import { Subjects } from "../subjects.ts";
import { defineRoute } from "./route.ts";

const S = Subjects.adapters;
const scope = { kind: "adapter_controllers", param: "id" } as const;
const deviceErrors = [
  Errors.AdapterConnection,
  Errors.AdapterAuthentication,
  Errors.AdapterNotFound,
  Errors.AdapterTimeout,
  Errors.AdapterRateLimit,
  Errors.AdapterError,
] as const;

export const adaptersVendorsRoute = defineRoute({
  id: "adapters.vendors.list",
  method: "GET",
  path: "/api/v1/adapters/vendors",
  summary: "List drivers with their features, operations and catastrophic operations",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersRead,
  subject: S.vendors,
  reply: AdapterVendorList,
});

export const adaptersControllersListRoute = defineRoute({
  id: "adapters.controllers.list",
  method: "GET",
  path: "/api/v1/adapters/controllers",
  summary: "List controllers",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersRead,
  subject: S.controllersList,
  query: AdapterControllerListQuery,
  reply: AdapterControllerList,
  errors: [Errors.ValidationFailed],
});

export const adaptersControllersCreateRoute = defineRoute({
  id: "adapters.controllers.create",
  method: "POST",
  path: "/api/v1/adapters/controllers",
  summary: "Register a controller",
  description:
    "Credentials are sealed at rest (AES-256-GCM) and never returned; responses only say which fields are set.",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersApply,
  subject: S.controllersCreate,
  body: AdapterControllerCreate,
  reply: AdapterControllerView,
  status: 201,
  errors: [Errors.ValidationFailed, Errors.Conflict],
});

export const adaptersControllersGetRoute = defineRoute({
  id: "adapters.controllers.get",
  method: "GET",
  path: "/api/v1/adapters/controllers/{id}",
  summary: "Show a controller (without secrets)",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersRead,
  scope,
  subject: S.controllersGet,
  params: AdapterControllerParams,
  reply: AdapterControllerView,
  errors: [Errors.NotFound],
});

export const adaptersControllersUpdateRoute = defineRoute({
  id: "adapters.controllers.update",
  method: "PATCH",
  path: "/api/v1/adapters/controllers/{id}",
  summary: "Change a controller",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersApply,
  scope,
  subject: S.controllersUpdate,
  params: AdapterControllerParams,
  body: AdapterControllerUpdate,
  reply: AdapterControllerView,
  errors: [Errors.ValidationFailed, Errors.NotFound, Errors.Conflict],
});

export const adaptersControllersDeleteRoute = defineRoute({
  id: "adapters.controllers.delete",
  method: "DELETE",
  path: "/api/v1/adapters/controllers/{id}",
  summary: "Remove a controller",
  description:
    "Refused (409) while one of its changes is applying or waiting for confirmation; staged ones are discarded.",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersApply,
  scope,
  subject: S.controllersDelete,
  params: AdapterControllerParams,
  reply: Empty,
  status: 204,
  errors: [Errors.NotFound, Errors.Conflict],
});

export const adaptersControllersTestRoute = defineRoute({
  id: "adapters.controllers.test",
  method: "POST",
  path: "/api/v1/adapters/controllers/{id}/test",
  summary: "Check that the device answers and accepts the credentials",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersRead,
  scope,
  subject: S.controllersTest,
  params: AdapterControllerParams,
  reply: AdapterControllerTestResult,
  mutation: false,
  timeoutMs: 20_000,
  errors: [Errors.NotFound, ...deviceErrors],
});

export const adaptersReadRoute = defineRoute({
  id: "adapters.controllers.read",
  method: "GET",
  path: "/api/v1/adapters/controllers/{id}/{feature}",
  summary: "Read a feature live from the device",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersRead,
  scope,
  subject: S.read,
  params: AdapterControllerFeatureParams,
  reply: AdapterLiveRead,
  timeoutMs: 20_000,
  errors: [Errors.NotFound, Errors.ValidationFailed, ...deviceErrors],
});

export const adaptersStageRoute = defineRoute({
  id: "adapters.changes.stage",
  method: "POST",
  path: "/api/v1/adapters/controllers/{id}/changes/{feature}",
  summary: "Stage a change (never touches the device)",
  description:
    "Records a pending change with the device's current state of the target, the diff and the risk. Catastrophic operations need role ≥ admin.",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersStage,
  scope,
  subject: S.changesStage,
  params: AdapterControllerFeatureParams,
  query: AdapterStageQuery,
  body: AdapterStageBody,
  reply: AdapterChangeView,
  status: 201,
  timeoutMs: 20_000,
  errors: [Errors.ValidationFailed, Errors.Forbidden, Errors.NotFound, ...deviceErrors],
});

export const adaptersChangesListRoute = defineRoute({
  id: "adapters.changes.list",
  method: "GET",
  path: "/api/v1/adapters/changes",
  summary: "List changes (filter by controller, status, feature)",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersRead,
  subject: S.changesList,
  query: AdapterChangeListQuery,
  reply: AdapterChangeList,
  errors: [Errors.ValidationFailed],
});

export const adaptersChangesGetRoute = defineRoute({
  id: "adapters.changes.get",
  method: "GET",
  path: "/api/v1/adapters/changes/{id}",
  summary: "Inspect a change: payload, diff, history",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersRead,
  subject: S.changesGet,
  params: AdapterChangeParams,
  reply: AdapterChangeView,
  errors: [Errors.NotFound],
});

export const adaptersChangesApplyRoute = defineRoute({
  id: "adapters.changes.apply",
  method: "POST",
  path: "/api/v1/adapters/changes/{id}/apply",
  summary: "Apply a staged change to the device",
  description:
    'Needs both gates: `{"force": true}` in the body and the deployment setting `EP_ADAPTER_READ_ONLY=false`. With `confirm_within` the change is rolled back unless confirmed in time.',
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersApply,
  subject: S.changesApply,
  params: AdapterChangeParams,
  body: AdapterApplyBody,
  reply: AdapterChangeView,
  timeoutMs: 90_000,
  errors: [Errors.AdapterApplyGated, Errors.Forbidden, Errors.NotFound, Errors.Conflict, ...deviceErrors],
});

export const adaptersChangesConfirmRoute = defineRoute({
  id: "adapters.changes.confirm",
  method: "POST",
  path: "/api/v1/adapters/changes/{id}/confirm",
  summary: "Keep a commit-confirm change",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersApply,
  subject: S.changesConfirm,
  params: AdapterChangeParams,
  reply: AdapterChangeView,
  timeoutMs: 30_000,
  errors: [Errors.NotFound, Errors.Conflict, ...deviceErrors],
});

export const adaptersChangesDiscardRoute = defineRoute({
  id: "adapters.changes.discard",
  method: "POST",
  path: "/api/v1/adapters/changes/{id}/discard",
  summary: "Discard a staged change",
  tags: ["adapters"],
  auth: "principal",
  permission: Perm.AdaptersStage,
  subject: S.changesDiscard,
  params: AdapterChangeParams,
  reply: AdapterChangeView,
  errors: [Errors.NotFound, Errors.Conflict],
});

/** Every adapters route, in docs order. */
export const adaptersRoutes = [
  adaptersVendorsRoute,
  adaptersControllersListRoute,
  adaptersControllersCreateRoute,
  adaptersControllersGetRoute,
  adaptersControllersUpdateRoute,
  adaptersControllersDeleteRoute,
  adaptersControllersTestRoute,
  adaptersReadRoute,
  adaptersStageRoute,
  adaptersChangesListRoute,
  adaptersChangesGetRoute,
  adaptersChangesApplyRoute,
  adaptersChangesConfirmRoute,
  adaptersChangesDiscardRoute,
] as const;
