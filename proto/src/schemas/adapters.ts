/**
 * Vendor adapters: controllers (managed devices), live reads, and the staged-write
 * pipeline (stage → inspect diff → apply behind gates → confirm or roll back). The
 * per-vendor feature catalogue (what each driver can read and change, with the strict
 * schema of every payload) is in `adapters-vendors.ts`.
 */
import { z } from "zod";
import { nameSchema } from "../names.ts";
import { ROLES } from "../perms.ts";
import { ListQuery, listOf } from "./common.ts";

// --- primitives shared by the vendor payload schemas -------------------------------------

export const AdapterVendor = z
  .enum(["linux", "opnsense", "routeros", "openwrt"])
  .describe("Device vendor (driver).");
export type AdapterVendor = z.infer<typeof AdapterVendor>;

/**
 * What a staged change does. `create`/`update`/`delete` act on one object of a feature;
 * `reboot` is a device-wide action. Each driver declares which apply to which feature.
 */
export const AdapterOperation = z
  .enum(["create", "update", "delete", "reboot"])
  .describe("What the change does: create/update/delete an object, or a device-wide action.");
export type AdapterOperation = z.infer<typeof AdapterOperation>;

export const AdapterRisk = z
  .enum(["low", "medium", "high", "catastrophic"])
  .describe("How much the change can hurt: catastrophic ones need role ≥ admin to stage and to apply.");
export type AdapterRisk = z.infer<typeof AdapterRisk>;

export const AdapterChangeStatus = z
  .enum(["staged", "applying", "applied", "pending_confirm", "rolled_back", "failed", "discarded"])
  .describe("Where the change is in its life.");
export type AdapterChangeStatus = z.infer<typeof AdapterChangeStatus>;

/** A feature name: snake_case, e.g. `firewall_rules`. */
export const AdapterFeatureName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,39}$/, "1–40 characters of a-z, 0-9 and '_', starting with a letter")
  .describe("Feature of the device, e.g. `firewall_rules` (see `GET /api/v1/adapters/vendors`).");

export const AdapterControllerId = z
  .string()
  .regex(/^ctl_[0-9a-z]{16}$/, "a controller id: `ctl_` and 16 base32 characters")
  .describe("Controller id (`ctl_…`).");
export const AdapterChangeId = z
  .string()
  .regex(/^chg_[0-9a-z]{16}$/, "a change id: `chg_` and 16 base32 characters")
  .describe("Change id (`chg_…`).");

export const AdapterIpAddress = z.union([z.ipv4(), z.ipv6()]).describe("An IPv4 or IPv6 address.");
export const AdapterCidr = z
  .union([z.cidrv4(), z.cidrv6()])
  .describe("An IPv4 or IPv6 prefix, e.g. `10.0.0.0/24`.");
export const AdapterAddressOrCidr = z
  .union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()])
  .describe("An address or a prefix.");
export const AdapterPort = z.number().int().min(1).max(65535).describe("A TCP/UDP port (1–65535).");
export const AdapterComment = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9 _.,:;@()+=/-]*$/, "only letters, digits, spaces and _.,:;@()+=/- are allowed")
  .describe("Free-text comment: at most 64 characters of letters, digits, spaces and _.,:;@()+=/-.");
/** A Linux interface name (IFNAMSIZ: at most 15 bytes). */
export const AdapterIfName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, "1–15 characters of letters, digits, '_', '.', '-'")
  .describe("Interface name (1–15 characters of letters, digits, '_', '.', '-').");
export const AdapterTag = nameSchema("tag");

// --- controllers ----------------------------------------------------------------------------

export const AdapterTlsSettings = z
  .object({
    verify: z
      .boolean()
      .describe(
        "Verify the device's certificate (or SSH host key). `false` is an explicit insecure opt-out; there is no default.",
      ),
    ca_pem: z
      .string()
      .max(16_384)
      .regex(/-----BEGIN CERTIFICATE-----/, "a PEM certificate")
      .optional()
      .describe("PEM CA bundle to trust for this device (pins a private CA or a self-signed certificate)."),
    host_key_sha256: z
      .string()
      .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, "an OpenSSH fingerprint: `SHA256:` and 43 base64 characters")
      .optional()
      .describe(
        "SSH drivers: the host key fingerprint to pin (`ssh-keygen -lf`); required when `verify` is true.",
      ),
  })
  .strict()
  .describe("How the device's identity is checked.");
export type AdapterTlsSettings = z.infer<typeof AdapterTlsSettings>;

export const AdapterCredentials = z
  .object({
    username: z.string().min(1).max(128).optional().describe("Login name (SSH, RouterOS, OpenWrt)."),
    password: z.string().min(1).max(1024).optional().describe("Password (sealed at rest, never returned)."),
    private_key: z
      .string()
      .max(16_384)
      .regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM/OpenSSH private key")
      .optional()
      .describe("SSH private key in OpenSSH or PEM form (sealed at rest, never returned)."),
    passphrase: z
      .string()
      .max(1024)
      .optional()
      .describe("Passphrase of the private key (sealed, never returned)."),
    api_key: z.string().min(1).max(1024).optional().describe("API key (OPNsense; sealed, never returned)."),
    api_secret: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe("API secret (OPNsense; sealed, never returned)."),
  })
  .strict()
  .describe("Credentials for the device; which fields are needed depends on the vendor.");
export type AdapterCredentials = z.infer<typeof AdapterCredentials>;

/** Base URL: `ssh://host[:port]` for the linux driver, `http(s)://host[:port]` for the others. */
export const AdapterBaseUrl = z
  .string()
  .max(512)
  .url()
  .regex(
    /^(https?|ssh):\/\/[^\s/?#@]+(\/[A-Za-z0-9._~/-]*)?$/,
    "`ssh://host[:port]` or `http(s)://host[:port][/path]`, without credentials, query or fragment",
  )
  .describe("Where the device answers: `ssh://host[:port]` (linux) or `https://host[:port]` (vendor APIs).");

export const AdapterControllerCreate = z
  .object({
    name: nameSchema("controller name"),
    vendor: AdapterVendor,
    base_url: AdapterBaseUrl,
    credentials: AdapterCredentials,
    tls: AdapterTlsSettings,
    site: nameSchema("site").optional().describe("Site the device belongs to."),
    tags: z.array(AdapterTag).max(32).optional().describe("Free tags for grouping (names)."),
  })
  .strict()
  .describe("Register a controller (a managed device or vendor controller).");
export type AdapterControllerCreate = z.infer<typeof AdapterControllerCreate>;

export const AdapterControllerUpdate = z
  .object({
    name: nameSchema("controller name").optional(),
    base_url: AdapterBaseUrl.optional(),
    credentials: AdapterCredentials.optional().describe("Replaces every stored credential field."),
    tls: AdapterTlsSettings.optional(),
    site: nameSchema("site").nullable().optional().describe("Site; null clears it."),
    tags: z.array(AdapterTag).max(32).optional().describe("Replaces the tags."),
  })
  .strict()
  .describe("Change a controller; absent fields are kept.");
export type AdapterControllerUpdate = z.infer<typeof AdapterControllerUpdate>;

export const AdapterControllerView = z
  .object({
    id: AdapterControllerId,
    name: z.string().describe("Controller name."),
    vendor: AdapterVendor,
    base_url: z.string().describe("Where the device answers."),
    credentials_set: z.boolean().describe("True when credentials are stored (they are never returned)."),
    credential_fields: z.array(z.string()).describe("Which credential fields are set (names only)."),
    tls: z
      .object({
        verify: z.boolean().describe("Whether the device's identity is verified."),
        ca_pem_set: z.boolean().describe("True when a CA bundle is pinned."),
        host_key_sha256: z.string().nullable().describe("Pinned SSH host key fingerprint, if any."),
      })
      .describe("Identity verification settings."),
    site: z.string().nullable().describe("Site, if any."),
    tags: z.array(z.string()).describe("Tags."),
    created_at: z.string().describe("Creation time (ISO 8601)."),
    updated_at: z.string().describe("Last change (ISO 8601)."),
  })
  .describe("A controller, without its secrets.")
  .meta({ id: "AdapterController" });
export type AdapterControllerView = z.infer<typeof AdapterControllerView>;

export const AdapterControllerParams = z.object({ id: AdapterControllerId });
export const AdapterControllerFeatureParams = z.object({
  id: AdapterControllerId,
  feature: AdapterFeatureName,
});
export const AdapterControllerListQuery = ListQuery.extend({
  vendor: AdapterVendor.optional(),
  site: nameSchema("site").optional().describe("Only controllers of this site."),
  tag: AdapterTag.optional().describe("Only controllers with this tag."),
});
export const AdapterControllerList = listOf(AdapterControllerView).describe("A page of controllers.");

export const AdapterControllerTestResult = z
  .object({
    ok: z.boolean().describe("True when the device answered and accepted the credentials."),
    latency_ms: z.number().describe("Round-trip time of the check."),
    device: z
      .record(z.string(), z.unknown())
      .describe("What the device says about itself (model, version…)."),
  })
  .describe("Reachability and credential check.");

export const AdapterLiveRead = z
  .object({
    controller_id: AdapterControllerId,
    feature: z.string().describe("The feature read."),
    items: z
      .array(z.record(z.string(), z.unknown()))
      .describe("The device's objects, in the driver's model."),
    fetched_at: z.string().describe("When the device answered (ISO 8601)."),
  })
  .describe("A live read from the device.");

// --- changes --------------------------------------------------------------------------------

export const AdapterStageQuery = z.object({ operation: AdapterOperation });
export const AdapterStageBody = z
  .object({
    id: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9*:/._@-]+$/, "letters, digits and *:/._@- only")
      .optional()
      .describe("The target object's id (required for update and delete; as returned by a live read)."),
    data: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "The object's fields (create: all required ones; update: those to change). Validated per feature.",
      ),
    comment: AdapterComment.optional().describe("Why this change is staged."),
  })
  .strict()
  .describe("What to change; never touches the device.");

export const AdapterDiffEntry = z
  .object({
    field: z.string().describe("Field of the target."),
    before: z.unknown().describe("Value on the device when staged (null: absent)."),
    after: z.unknown().describe("Value once applied (null: absent)."),
  })
  .describe("One changed field.");

export const AdapterActor = z
  .object({
    user_id: z.string().describe("User id."),
    username: z.string().describe("User name."),
    role: z.enum(ROLES as [string, ...string[]]).describe("The role the user held at the time."),
  })
  .describe("Who did it.");

export const AdapterChangeHistoryEntry = z
  .object({
    at: z.string().describe("When (ISO 8601)."),
    from: AdapterChangeStatus.nullable().describe("Status before (null when staged)."),
    to: AdapterChangeStatus.describe("Status after."),
    actor: z.string().describe("Who: a username, or `system` for timeouts and rollbacks."),
    note: z.string().nullable().describe("Why (error code, confirm window, …)."),
  })
  .describe("One status transition.");

export const AdapterChangeView = z
  .object({
    id: AdapterChangeId,
    controller_id: AdapterControllerId,
    vendor: AdapterVendor,
    feature: z.string().describe("Feature changed."),
    operation: AdapterOperation,
    target_id: z.string().nullable().describe("Id of the object acted on (null for create until applied)."),
    payload: z.record(z.string(), z.unknown()).describe("The validated change as staged."),
    before: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe("The device's state of the target when staged."),
    after: z.record(z.string(), z.unknown()).nullable().describe("The target's state once applied."),
    diff: z.array(AdapterDiffEntry).describe("Changed fields."),
    risk: AdapterRisk,
    catastrophic: z.boolean().describe("True when role ≥ admin is needed to stage and to apply."),
    rollback: z
      .enum(["native", "snapshot", "inverse", "none"])
      .describe(
        "How a commit-confirm apply is undone: the vendor's own timer, a saved snapshot, or the inverse operation.",
      ),
    status: AdapterChangeStatus,
    comment: z.string().nullable().describe("Why it was staged."),
    staged_by: AdapterActor,
    applied_by: AdapterActor.nullable().describe("Who applied it."),
    confirm_deadline: z
      .string()
      .nullable()
      .describe("pending_confirm: rolled back unless confirmed by then."),
    result: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe("What the device answered (e.g. the new object's id)."),
    error: z
      .object({ code: z.string().describe("Error code."), message: z.string().describe("What went wrong.") })
      .nullable()
      .describe("Why it failed or was rolled back."),
    created_at: z.string().describe("When staged (ISO 8601)."),
    updated_at: z.string().describe("Last transition (ISO 8601)."),
    history: z.array(AdapterChangeHistoryEntry).optional().describe("Every transition (inspect only)."),
  })
  .describe("A staged change.")
  .meta({ id: "AdapterChange" });
export type AdapterChangeView = z.infer<typeof AdapterChangeView>;

export const AdapterChangeParams = z.object({ id: AdapterChangeId });
export const AdapterChangeListQuery = ListQuery.extend({
  controller_id: AdapterControllerId.optional(),
  status: AdapterChangeStatus.optional(),
  feature: AdapterFeatureName.optional(),
});
export const AdapterChangeList = listOf(AdapterChangeView).describe("A page of changes, newest first.");

export const AdapterApplyBody = z
  .object({
    force: z.boolean().default(false).describe("Must be true: the explicit per-request gate."),
    confirm_within: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .optional()
      .describe("Commit-confirm: seconds to confirm the change before it is rolled back."),
  })
  .strict()
  .describe("Apply a staged change to the device.");

// --- vendors --------------------------------------------------------------------------------

export const AdapterFeatureInfo = z
  .object({
    name: z.string().describe("Feature name."),
    description: z.string().describe("What it is."),
    readable: z.boolean().describe("Whether `GET …/controllers/{id}/{feature}` reads it live."),
    operations: z.array(AdapterOperation).describe("Operations that can be staged."),
    catastrophic: z.array(AdapterOperation).describe("Operations that need role ≥ admin to stage and apply."),
    rollback: z
      .enum(["native", "snapshot", "inverse", "none"])
      .describe("How a commit-confirm apply is undone."),
    data_schema: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe("JSON Schema of `data` for create/update."),
  })
  .describe("One feature of a driver.");
export const AdapterVendorInfo = z
  .object({
    vendor: AdapterVendor,
    title: z.string().describe("Human name."),
    transport: z.string().describe("How the driver talks to the device."),
    credentials: z.array(z.string()).describe("Credential fields the driver needs."),
    features: z.array(AdapterFeatureInfo).describe("What it can read and change."),
  })
  .describe("A driver.");
export const AdapterVendorList = z
  .object({ items: z.array(AdapterVendorInfo).describe("Every driver.") })
  .describe("Drivers.");
