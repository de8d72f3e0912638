/**
 * A wireguard-go device in an (optional) network namespace: start it detached so it
 * outlives the agent (an agent restart must not drop sessions), adopt it when it already
 * runs, configure addresses/MTU with `ip` (argument vectors, never a shell), and remove
 * it only when the desired state says so. Every argument is a validated value.
 */
import { execFile, spawn } from "node:child_process";
import { access, rm } from "node:fs/promises";
import { promisify } from "node:util";
import { socketPath, uapiAlive } from "./uapi.ts";

const run = promisify(execFile);

export interface DeviceHost {
  /** Network namespace for devices; undefined = the agent's own. */
  netns: string | undefined;
  /** The wireguard-go executable. */
  bin: string;
}

function ipArgs(h: DeviceHost, args: string[]): string[] {
  return h.netns ? ["-n", h.netns, ...args] : args;
}

export async function ip(h: DeviceHost, args: string[]): Promise<string> {
  try {
    const { stdout } = await run("ip", ipArgs(h, args), { timeout: 10_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.slice(0, 3).join(" ")}: ${(e.stderr ?? e.message).trim().slice(0, 300)}`);
  }
}

/** Start wireguard-go for `device` unless its socket already answers; returns true if started. */
export async function ensureDevice(h: DeviceHost, device: string, timeoutMs = 5000): Promise<boolean> {
  if (await uapiAlive(device)) return false;
  // A socket left by a dead wireguard-go would make the new one fail to listen.
  await rm(socketPath(device), { force: true });
  const cmd = h.netns ? "ip" : h.bin;
  const args = h.netns ? ["netns", "exec", h.netns, h.bin, device] : [device];
  const child = spawn(cmd, args, {
    detached: true,
    stdio: "ignore",
    env: {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      WG_PROCESS_FOREGROUND: "1",
      LOG_LEVEL: "error",
    },
  });
  let exited: string | undefined;
  child.once("exit", (code, sig) => {
    exited = `wireguard-go exited (code ${code}, signal ${sig})`;
  });
  child.once("error", (err) => {
    exited = `wireguard-go could not start: ${err.message}`;
  });
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(exited);
    try {
      await access(socketPath(device));
      if (await uapiAlive(device)) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`wireguard-go for ${device} did not open its socket within ${timeoutMs} ms`);
}

/** Addresses, MTU and link state: idempotent, keeps sessions. */
export async function configureLink(
  h: DeviceHost,
  device: string,
  addresses: readonly string[],
  mtu: number | null,
): Promise<void> {
  for (const a of addresses) await ip(h, ["address", "replace", a, "dev", device]);
  const link = ["link", "set", "dev", device];
  if (mtu !== null) link.push("mtu", String(mtu));
  link.push("up");
  await ip(h, link);
}

/** True when the link exists and is up (in the device's namespace). */
export async function linkUp(h: DeviceHost, device: string): Promise<boolean> {
  try {
    const out = await ip(h, ["-j", "link", "show", "dev", device]);
    const [l] = JSON.parse(out) as Array<{ flags?: string[] }>;
    return l?.flags?.includes("UP") ?? false;
  } catch {
    return false;
  }
}

/** Remove the device: wireguard-go exits when its TUN goes away. */
export async function removeDevice(h: DeviceHost, device: string): Promise<void> {
  try {
    await ip(h, ["link", "del", "dev", device]);
  } catch {
    // already gone
  }
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && (await uapiAlive(device))) await new Promise((r) => setTimeout(r, 20));
  await rm(socketPath(device), { force: true });
}

/** Whether this process can drive wireguard-go here, and why not. */
export async function wireguardGoUsable(
  h: DeviceHost,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    return {
      ok: false,
      reason: "not running as root (wireguard-go needs CAP_NET_ADMIN to create a TUN device)",
    };
  }
  for (const [bin, args] of [
    [h.bin, ["--version"]],
    ["ip", ["-V"]],
  ] as const) {
    try {
      await run(bin, [...args], { timeout: 5000 });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === "ENOENT")
        return {
          ok: false,
          reason: `${bin} not found (apt-get install --no-install-recommends wireguard-go iproute2)`,
        };
    }
  }
  try {
    await access("/dev/net/tun");
  } catch {
    return { ok: false, reason: "/dev/net/tun is not available" };
  }
  if (h.netns) {
    try {
      await access(`/var/run/netns/${h.netns}`);
    } catch {
      return { ok: false, reason: `network namespace ${h.netns} does not exist` };
    }
  }
  return { ok: true };
}
