/**
 * Self time from a V8 `.cpuprofile` (`node --cpu-prof`): the frames where the CPU was,
 * grouped by function and source line, and by file or package. Percentages are of busy
 * time (idle excluded). Lines are 1-based; type stripping keeps `.ts` line numbers.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  /** `file:line` (repo-relative when inside `root`), or the V8 pseudo-frame name. */
  location: string;
  fn: string;
  selfMs: number;
  /** % of busy (non-idle) time. */
  pct: number;
  /** The JS caller (nearest ancestor with a source location) that accounts for most of it. */
  caller?: string;
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  idleMs: number;
  top: HotSpot[];
  /** Self time by file, or by package for node_modules, biggest first. */
  byModule: { module: string; selfMs: number; pct: number }[];
}

function location(url: string, root: string): string {
  if (!url) return "";
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  return path.startsWith("/") ? relative(root, path) : path;
}

function moduleOf(loc: string): string {
  const nm = loc.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const parts = loc.slice(nm + "node_modules/".length).split("/");
    return `npm:${parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  return loc || "(native/V8)";
}

const r1 = (v: number) => Math.round(v * 10) / 10;

export function summarizeProfile(file: string, root: string, n = 15): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, ProfileNode>();
  for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node);
  const callerOf = (node: ProfileNode): string => {
    for (let p = parent.get(node.id); p; p = parent.get(p.id)) {
      if (p.callFrame.url)
        return `${p.callFrame.functionName || "(anonymous)"} ${location(p.callFrame.url, root)}:${p.callFrame.lineNumber + 1}`;
    }
    return "";
  };
  const self = new Map<string, { fn: string; loc: string; us: number; callers: Map<string, number> }>();
  let idleUs = 0;
  let busyUs = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: charge it to the previous one.
    const us = prof.timeDeltas[i + 1] ?? 0;
    const node = byId.get(prof.samples[i] as number);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const loc = url ? `${location(url, root)}:${lineNumber + 1}` : "";
    const key = `${functionName}\u0000${loc}`;
    const entry = self.get(key) ?? { fn: functionName || "(anonymous)", loc, us: 0, callers: new Map() };
    entry.us += us;
    const caller = callerOf(node);
    entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + us);
    self.set(key, entry);
  }
  const pct = (us: number) => r1((us / Math.max(1, busyUs)) * 100);
  const modules = new Map<string, number>();
  for (const e of self.values()) {
    const m = moduleOf(e.loc.replace(/:\d+$/, ""));
    modules.set(m, (modules.get(m) ?? 0) + e.us);
  }
  return {
    file: relative(root, file),
    busyMs: r1(busyUs / 1000),
    idleMs: r1(idleUs / 1000),
    top: [...self.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, n)
      .map((e) => {
        const [caller, cus] = [...e.callers].sort((a, b) => b[1] - a[1])[0] ?? ["", 0];
        const h: HotSpot = { location: e.loc || e.fn, fn: e.fn, selfMs: r1(e.us / 1000), pct: pct(e.us) };
        if (caller) h.caller = `${caller} (${Math.round((cus / e.us) * 100)}%)`;
        return h;
      }),
    byModule: [...modules]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([module, us]) => ({ module, selfMs: r1(us / 1000), pct: pct(us) })),
  };
}
