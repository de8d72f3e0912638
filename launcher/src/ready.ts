// Readiness of the mesh as the gateway reports it, and the first-start setup banner.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface Probe {
  readonly ok: boolean;
  /** What is wrong, for the operator: status and body, or the connection error. */
  readonly problem: string;
}

/** One GET of /api/v1/health/ready. */
export async function probeReady(baseUrl: string): Promise<Probe> {
  try {
    const res = await fetch(`${baseUrl}/api/v1/health/ready`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.text()).trim().slice(0, 1000);
    return { ok: res.status === 200, problem: `HTTP ${res.status}${body ? ` ${body}` : ""}` };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, problem: cause?.code ?? cause?.message ?? (err as Error).message };
  }
}

/**
 * Polls until ready. After `timeoutMs` calls `onSlow` once with the last problem and
 * keeps polling (more slowly): the mesh may still come up, e.g. once a crashing service
 * is fixed. Resolves true when ready, false when `signal` aborts.
 */
export async function waitReady(
  baseUrl: string,
  opts: { timeoutMs: number; signal: AbortSignal; onSlow: (problem: string) => void },
): Promise<boolean> {
  const slowAt = Date.now() + opts.timeoutMs;
  let warned = false;
  while (!opts.signal.aborted) {
    const p = await probeReady(baseUrl);
    if (p.ok) return true;
    if (!warned && Date.now() >= slowAt) {
      warned = true;
      opts.onSlow(p.problem);
    }
    try {
      await sleep(warned ? 2000 : 250, undefined, { signal: opts.signal });
    } catch {
      break;
    }
  }
  return false;
}

/** The setup token when setup is still to be done, else undefined. */
export async function pendingSetupToken(baseUrl: string, tokenFile: string): Promise<string | undefined> {
  let token: string;
  try {
    token = readFileSync(tokenFile, "utf8").trim();
  } catch {
    return undefined;
  }
  if (token === "") return undefined;
  try {
    const res = await fetch(`${baseUrl}/api/v1/setup/status`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { setup_required?: unknown };
    return body.setup_required === true ? token : undefined;
  } catch {
    return undefined;
  }
}

/** The lines printed after "ready" on a first start. */
export function setupBanner(baseUrl: string, token: string, tokenFile: string): string {
  const body = JSON.stringify({ token, username: "admin", password: "<choose a password>" });
  return [
    `setup token: ${token} (also in ${tokenFile})`,
    "complete setup with:",
    `  curl -sS -X POST ${baseUrl}/api/v1/setup/complete -H 'content-type: application/json' -d '${body}'`,
    "",
  ].join("\n");
}
