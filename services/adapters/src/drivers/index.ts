/** The driver registry: one implementation per vendor of proto's catalogue. */
import type { AdapterVendor } from "@edgeplane/proto";
import { linuxDriver } from "./linux.ts";
import { openwrtDriver } from "./openwrt.ts";
import { opnsenseDriver } from "./opnsense.ts";
import { routerosDriver } from "./routeros.ts";
import type { Driver } from "./types.ts";

const DRIVERS: Readonly<Record<AdapterVendor, Driver>> = Object.freeze({
  linux: linuxDriver,
  opnsense: opnsenseDriver,
  routeros: routerosDriver,
  openwrt: openwrtDriver,
});

export function driverFor(vendor: AdapterVendor): Driver {
  return DRIVERS[vendor];
}
