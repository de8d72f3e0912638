/**
 * The vendor catalogue: for every driver, its features, which operations can be staged,
 * which are catastrophic (role ≥ admin at stage and at apply), how a commit-confirm
 * apply is undone, and the strict schema of every payload. Drivers implement exactly
 * this; nothing user-supplied reaches a device without passing one of these schemas.
 * Payloads are in a vendor-neutral snake_case model; drivers map them to the vendor's.
 */
import { z } from "zod";
import type { FieldIssue } from "../errors.ts";
import {
  AdapterAddressOrCidr,
  AdapterCidr,
  AdapterComment,
  AdapterIfName,
  AdapterIpAddress,
  type AdapterOperation,
  AdapterPort,
  type AdapterRisk,
  type AdapterVendor,
} from "./adapters.ts";

export type AdapterRollbackKind = "native" | "snapshot" | "inverse" | "none";

export interface AdapterFeatureDef {
  readonly name: string;
  readonly description: string;
  readonly readable: boolean;
  readonly operations: readonly AdapterOperation[];
  readonly catastrophic: readonly AdapterOperation[];
  readonly risk: Readonly<Partial<Record<AdapterOperation, AdapterRisk>>>;
  readonly rollback: AdapterRollbackKind;
  /** Fields for create/update (update merges over the device's current object). */
  readonly data?: z.ZodObject;
  /** Cross-field checks on a complete object. */
  readonly check?: (v: Record<string, unknown>) => FieldIssue[];
  /** The target id grammar (update/delete). */
  readonly id?: z.ZodString;
  /** Longest commit-confirm window the vendor's native timer allows, in seconds. */
  readonly maxConfirmWithin?: number;
}

export interface AdapterVendorDef {
  readonly vendor: AdapterVendor;
  readonly title: string;
  readonly transport: string;
  /** Credential fields the driver needs (all of them). */
  readonly credentials: readonly ("username" | "password" | "private_key" | "api_key" | "api_secret")[];
  /** Alternatives: at least one of each group must be set. */
  readonly credentialsOneOf?: readonly (readonly string[])[];
  readonly features: readonly AdapterFeatureDef[];
}

const Action = z.enum(["accept", "drop", "reject"]).describe("What the rule does with matching packets.");
const Protocol = z.enum(["tcp", "udp", "icmp", "any"]).describe("Layer-4 protocol to match.");

/**
 * The packet match every firewall rule has (what `ruleCheck` checks), described in the
 * vendor's own words. Spread into the rule's object where the vendor lists it.
 */
function ruleMatch(describe: { source: string; destination: string; port: string }) {
  return {
    protocol: Protocol.default("any"),
    source: AdapterAddressOrCidr.optional().describe(describe.source),
    destination: AdapterAddressOrCidr.optional().describe(describe.destination),
    port: AdapterPort.optional().describe(describe.port),
  };
}

/** `enabled` of OPNsense and OpenWrt objects: on unless said otherwise. */
const activeFlag = (noun: string) => z.boolean().default(true).describe(`Whether the ${noun} is active.`);

/** `port` needs tcp or udp; source/destination families must agree with each other. */
function ruleCheck(v: Record<string, unknown>): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (v.port !== undefined && v.protocol !== "tcp" && v.protocol !== "udp")
    out.push({ field: "data.port", message: "a port needs protocol tcp or udp", type: "custom" });
  const fam = (a: unknown) => (typeof a === "string" ? (a.includes(":") ? 6 : 4) : undefined);
  const s = fam(v.source);
  const d = fam(v.destination);
  if (s && d && s !== d)
    out.push({
      field: "data.destination",
      message: "source and destination are of different IP families",
      type: "custom",
    });
  if (v.family === "ip" && (s === 6 || d === 6))
    out.push({ field: "data.family", message: "family ip matches IPv4 only", type: "custom" });
  if (v.family === "ip6" && (s === 4 || d === 4))
    out.push({ field: "data.family", message: "family ip6 matches IPv6 only", type: "custom" });
  return out;
}

// --- feature builders: a declaration below spells out only what is particular to it -----

const CRUD: readonly AdapterOperation[] = ["create", "update", "delete"];

interface WritableSpec
  extends Pick<AdapterFeatureDef, "name" | "description" | "rollback" | "check" | "maxConfirmWithin"> {
  /** Default: create, update and delete. */
  readonly operations?: readonly AdapterOperation[];
  /** Default: none. */
  readonly catastrophic?: readonly AdapterOperation[];
  /** One level for every operation, or per operation. */
  readonly risk: AdapterRisk | AdapterFeatureDef["risk"];
  readonly data: z.ZodObject;
  readonly id: z.ZodString;
}

/** A readable feature whose objects can be written (by default created, updated, deleted). */
function writable({ operations = CRUD, catastrophic = [], risk, ...rest }: WritableSpec): AdapterFeatureDef {
  const perOp = typeof risk === "string" ? Object.fromEntries(operations.map((op) => [op, risk])) : risk;
  return { ...rest, readable: true, operations, catastrophic, risk: perOp };
}

/** Every vendor's firewall rules: create, update, delete at medium risk, checked by `ruleCheck`. */
function firewallRules(spec: Omit<WritableSpec, "name" | "risk" | "check">): AdapterFeatureDef {
  return writable({ name: "firewall_rules", risk: "medium", check: ruleCheck, ...spec });
}

/** A feature that is only read. */
function readOnly(name: string, description: string): AdapterFeatureDef {
  return { name, description, readable: true, operations: [], catastrophic: [], risk: {}, rollback: "none" };
}

/** `reboot`, the device-wide action of the appliances: catastrophic, nothing to roll back. */
const SYSTEM_REBOOT: AdapterFeatureDef = {
  name: "system",
  description: "Device-wide actions: `reboot` (catastrophic).",
  readable: false,
  operations: ["reboot"],
  catastrophic: ["reboot"],
  risk: { reboot: "catastrophic" },
  rollback: "none",
};

// --- linux (SSH + nft -j + ip -j) -------------------------------------------------------------

const NftName = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_-]{0,31}$/,
    "1–32 characters of letters, digits, '_', '-', starting with a letter",
  );

export const LinuxFirewallRule = z
  .object({
    family: z.enum(["inet", "ip", "ip6"]).default("inet").describe("nftables family of the table."),
    table: NftName.default("filter").describe("nftables table (must exist)."),
    chain: NftName.default("input").describe("nftables chain (must exist)."),
    action: Action,
    ...ruleMatch({
      source: "Source address or prefix to match.",
      destination: "Destination address or prefix to match.",
      port: "Destination port to match (tcp/udp).",
    }),
    comment: AdapterComment.optional(),
  })
  .strict()
  .describe("An nftables rule, appended to its chain.");

export const LinuxRoute = z
  .object({
    destination: z.union([AdapterCidr, z.literal("default")]).describe("Destination prefix, or `default`."),
    gateway: AdapterIpAddress.optional().describe("Next hop."),
    interface: AdapterIfName.optional().describe("Outgoing interface."),
    metric: z.number().int().min(0).max(65535).optional().describe("Route metric."),
  })
  .strict()
  .describe("A static route in the main table.");

export const LinuxAddress = z
  .object({
    interface: AdapterIfName.describe("Interface to add the address to."),
    address: AdapterCidr.describe("Address with prefix length, e.g. `192.0.2.1/24`."),
  })
  .strict()
  .describe("An interface address.");

const linux: AdapterVendorDef = {
  vendor: "linux",
  title: "Linux router (nftables, iproute2) over SSH",
  transport: "ssh: `nft -j`, `ip -j` (JSON on stdin/stdout, never a built shell string)",
  credentials: ["username"],
  credentialsOneOf: [["password", "private_key"]],
  features: [
    firewallRules({
      description: "nftables rules (`nft -j list ruleset`); id `family:table:chain:handle`.",
      rollback: "snapshot",
      data: LinuxFirewallRule,
      id: z
        .string()
        .regex(
          /^(inet|ip|ip6):[A-Za-z][A-Za-z0-9_-]{0,31}:[A-Za-z][A-Za-z0-9_-]{0,31}:\d{1,10}$/,
          "`family:table:chain:handle`",
        ),
    }),
    {
      name: "ruleset",
      description: "The whole nftables ruleset; `delete` flushes it (catastrophic).",
      readable: true,
      operations: ["delete"],
      catastrophic: ["delete"],
      risk: { delete: "catastrophic" },
      rollback: "snapshot",
    },
    writable({
      name: "routes",
      description: "Static routes of the main table (`ip -j route`); id is the destination.",
      operations: ["create", "delete"],
      risk: "high",
      rollback: "inverse",
      data: LinuxRoute,
      id: z.string().regex(/^(default|[0-9a-fA-F:.]+\/\d{1,3})$/, "a prefix or `default`"),
    }),
    writable({
      name: "addresses",
      description: "Interface addresses (`ip -j addr`); id `interface/address/prefix`.",
      operations: ["create", "delete"],
      risk: "high",
      rollback: "inverse",
      data: LinuxAddress,
      id: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\/[0-9a-fA-F:.]+\/\d{1,3}$/, "`interface/address/prefix`"),
    }),
    readOnly("interfaces", "Links and their state (`ip -j link`)."),
  ],
};

// --- OPNsense (REST API, key/secret) -------------------------------------------------------

export const OpnsenseFirewallRule = z
  .object({
    action: Action,
    interface: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,31}$/, "an OPNsense interface id such as `lan`, `wan`, `opt1`")
      .default("lan")
      .describe("Interface the rule is attached to."),
    direction: z.enum(["in", "out"]).default("in").describe("Traffic direction."),
    ...ruleMatch({
      source: "Source address or prefix (any if absent).",
      destination: "Destination address or prefix (any if absent).",
      port: "Destination port (tcp/udp).",
    }),
    enabled: activeFlag("rule"),
    comment: AdapterComment.optional().describe("Description of the rule."),
  })
  .strict()
  .describe("An OPNsense firewall filter rule.");

export const OpnsenseAlias = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, "1–32 characters of letters, digits, '_'")
      .describe("Alias name."),
    type: z.enum(["host", "network", "port"]).describe("What the alias holds."),
    content: z
      .array(
        z.union([AdapterAddressOrCidr, z.string().regex(/^\d{1,5}(:\d{1,5})?$/, "a port or port range")]),
      )
      .min(1)
      .max(256)
      .describe("Entries: addresses, prefixes or ports."),
    enabled: activeFlag("alias"),
    comment: AdapterComment.optional().describe("Description."),
  })
  .strict()
  .describe("An OPNsense firewall alias.");

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "a UUID");

const opnsense: AdapterVendorDef = {
  vendor: "opnsense",
  title: "OPNsense (REST API)",
  transport:
    "https: `/api/firewall/filter/*`, `/api/firewall/alias/*`, `/api/dhcpv4/leases/*`; HTTP Basic with key/secret",
  credentials: ["api_key", "api_secret"],
  features: [
    firewallRules({
      description:
        "Firewall filter rules; commit-confirm uses OPNsense's savepoint → apply/{revision} → cancelRollback.",
      rollback: "native",
      maxConfirmWithin: 60,
      data: OpnsenseFirewallRule,
      id: uuid,
    }),
    writable({
      name: "aliases",
      description: "Firewall aliases (hosts, networks, ports).",
      risk: { create: "low", update: "medium", delete: "medium" },
      rollback: "inverse",
      data: OpnsenseAlias,
      id: uuid,
    }),
    readOnly("dhcp_leases", "DHCPv4 leases (read only)."),
    SYSTEM_REBOOT,
  ],
};

// --- MikroTik RouterOS v7 (REST) ----------------------------------------------------------

/** A RouterOS item: fields, then the `disabled` flag and `comment` that every item carries. */
function routerosItem<T extends z.ZodRawShape>(noun: string, description: string, fields: T) {
  return z
    .object({
      ...fields,
      disabled: z.boolean().default(false).describe(`Whether the ${noun} is disabled.`),
      comment: AdapterComment.optional(),
    })
    .strict()
    .describe(description);
}

export const RouterosFirewallRule = routerosItem("rule", "A RouterOS `/ip/firewall/filter` rule.", {
  chain: z.enum(["input", "forward", "output"]).default("input").describe("Filter chain."),
  action: Action,
  ...ruleMatch({ source: "`src-address`.", destination: "`dst-address`.", port: "`dst-port` (tcp/udp)." }),
  in_interface: AdapterIfName.optional().describe("`in-interface`."),
});

export const RouterosAddress = routerosItem("address", "A RouterOS `/ip/address` entry.", {
  address: AdapterCidr.describe("Address with prefix length."),
  interface: AdapterIfName.describe("Interface."),
});

export const RouterosRoute = routerosItem("route", "A RouterOS `/ip/route` entry.", {
  destination: AdapterCidr.describe("`dst-address`."),
  gateway: z.union([AdapterIpAddress, AdapterIfName]).describe("`gateway`: next-hop address or interface."),
  distance: z.number().int().min(1).max(255).default(1).describe("Administrative distance."),
});

const rosId = z.string().regex(/^\*[0-9A-F]{1,8}$/, "a RouterOS id such as `*1A`");

const routeros: AdapterVendorDef = {
  vendor: "routeros",
  title: "MikroTik RouterOS v7 (REST)",
  transport: "https: `/rest/...` with GET/PUT/PATCH/DELETE, all values strings; HTTP Basic",
  credentials: ["username", "password"],
  features: [
    firewallRules({
      description: "`/ip/firewall/filter`.",
      rollback: "inverse",
      data: RouterosFirewallRule,
      id: rosId,
    }),
    writable({
      name: "addresses",
      description: "`/ip/address`.",
      risk: "high",
      rollback: "inverse",
      data: RouterosAddress,
      id: rosId,
    }),
    writable({
      name: "routes",
      description: "`/ip/route`.",
      risk: "high",
      rollback: "inverse",
      data: RouterosRoute,
      id: rosId,
    }),
    SYSTEM_REBOOT,
  ],
};

// --- OpenWrt (ubus JSON-RPC over uhttpd) ---------------------------------------------------

const Zone = z.string().regex(/^[a-z][a-z0-9_]{0,19}$/, "a firewall zone name such as `lan` or `wan`");

export const OpenwrtFirewallRule = z
  .object({
    name: AdapterComment.optional().describe("Rule name."),
    src: Zone.default("wan").describe("Source zone."),
    dest: Zone.optional().describe("Destination zone (absent: the router itself)."),
    action: Action,
    ...ruleMatch({ source: "`src_ip`.", destination: "`dest_ip`.", port: "`dest_port` (tcp/udp)." }),
    enabled: activeFlag("rule"),
  })
  .strict()
  .describe("A UCI `firewall` section of type `rule`.");

export const OpenwrtInterface = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,14}$/, "a UCI interface name such as `lan`")
      .describe("Logical interface name (the UCI section)."),
    proto: z.enum(["static", "dhcp", "none"]).describe("Addressing protocol."),
    device: AdapterIfName.describe("Underlying device, e.g. `br-lan`."),
    ipaddr: z.ipv4().optional().describe("Static IPv4 address."),
    netmask: z.ipv4().optional().describe("Static IPv4 netmask."),
  })
  .strict()
  .describe("A UCI `network` section of type `interface`.");

const openwrt: AdapterVendorDef = {
  vendor: "openwrt",
  title: "OpenWrt (ubus JSON-RPC)",
  transport:
    "http(s): `/ubus` JSON-RPC 2.0 — session.login, uci get/add/set/delete/changes/apply/confirm/rollback",
  credentials: ["username", "password"],
  features: [
    firewallRules({
      description:
        "UCI `firewall` rules; commit-confirm uses rpcd's `uci apply {rollback: true}` → `uci confirm`.",
      rollback: "native",
      data: OpenwrtFirewallRule,
      id: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, "a UCI section name"),
    }),
    writable({
      name: "network_interfaces",
      description: "UCI `network` interfaces; commit-confirm as for firewall rules.",
      catastrophic: ["delete"],
      risk: { create: "high", update: "high", delete: "catastrophic" },
      rollback: "native",
      data: OpenwrtInterface,
      check: (v) =>
        v.proto === "static" && (!v.ipaddr || !v.netmask)
          ? [{ field: "data.ipaddr", message: "proto static needs ipaddr and netmask", type: "custom" }]
          : [],
      id: z.string().regex(/^[a-z][a-z0-9_]{0,14}$/, "a UCI interface name"),
    }),
    SYSTEM_REBOOT,
  ],
};

/** Every driver's declaration, by vendor. */
export const ADAPTER_VENDORS: Readonly<Record<AdapterVendor, AdapterVendorDef>> = Object.freeze({
  linux,
  opnsense,
  routeros,
  openwrt,
});

export function adapterFeature(vendor: AdapterVendor, feature: string): AdapterFeatureDef | undefined {
  return ADAPTER_VENDORS[vendor].features.find((f) => f.name === feature);
}
