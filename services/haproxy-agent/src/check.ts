/**
 * `haproxy -c` on a rendered configuration, and haproxy's messages mapped back to the
 * document: every `[file:line]` names a line the renderer attributed to an entity; proxy
 * and server names in messages without a line are matched by name.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hint, StateDocument } from "@edgeplane/proto";
import { type Entity, type Rendered, type RenderOptions, render, runtimePaths } from "./render.ts";

export interface CheckResult {
  valid: boolean;
  output: string;
  hints: Hint[];
  /** Wall time of `haproxy -c` alone, in ms. */
  checkMs: number;
}

/** Run `haproxy -c -f <cfg>`; never throws for a rejected configuration. */
export function haproxyCheck(
  bin: string,
  cfgPath: string,
): Promise<{ ok: boolean; output: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(
      bin,
      ["-c", "-f", cfgPath],
      {
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin" },
      },
      (err, stdout, stderr) => {
        const output = `${stderr}${stdout}`.trim();
        const ms = performance.now() - t0;
        if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
          resolve({ ok: false, output: `haproxy executable not found: ${bin}`, ms });
        } else resolve({ ok: !err, output, ms });
      },
    );
  });
}

/** Agent-caused noise, not the document's fault: kept in `output`, left out of hints. */
const NOISE = [
  /Can't open global server state file/,
  /Configuration file is valid/,
  /haproxy version is/,
  /path to executable is/,
];

const LINE_RE = /^\[(ALERT|WARNING|NOTICE)\]\s+\(\d+\)\s*:\s*(.*)$/;

export function parseHints(output: string, cfgPath: string, entities: Array<Entity | undefined>): Hint[] {
  const hints: Hint[] = [];
  // Built on the first message naming a proxy or server without a line: most outputs have
  // none, and the index costs ~10 ms at 10,000 backends (one entity per rendered line).
  let index: Map<string, Entity> | undefined;
  const byName = (key: string) => {
    if (!index) {
      index = new Map();
      for (const e of entities)
        if (e && !index.has(`${e.kind}:${e.name}`)) index.set(`${e.kind}:${e.name}`, e);
    }
    return index.get(key);
  };
  for (const raw of output.split("\n")) {
    const m = LINE_RE.exec(raw.trim());
    if (!m) continue;
    const severity = m[1] as Hint["severity"];
    let message = (m[2] ?? "").replace(/^config\s*:\s*/, "");
    if (NOISE.some((re) => re.test(message))) continue;
    let line: number | null = null;
    const loc = /(?:parsing )?\[([^\]]+):(\d+)\]\s*:?\s*/.exec(message);
    if (loc && (loc[1] === cfgPath || loc[1]?.endsWith("haproxy.cfg") || loc[1]?.endsWith(".cfg"))) {
      line = Number(loc[2]);
      message = message.replace(loc[0], "").trim();
    }
    let entity: Entity | undefined = line !== null ? entities[line - 1] : undefined;
    if (!entity) {
      const srv = /server '?([A-Za-z0-9_.:-]+)\/([A-Za-z0-9_.:-]+)'?/.exec(message);
      const px = /(?:backend|frontend|proxy|listen|Proxy)\s+'([A-Za-z0-9_.:-]+)'/.exec(message);
      if (srv) entity = byName(`server:${srv[1]}/${srv[2]}`);
      if (!entity && px) {
        entity = byName(`backend:${px[1]}`) ?? byName(`frontend:${px[1]}`) ?? byName(`listen:${px[1]}`);
      }
    }
    if (severity === "NOTICE") continue;
    hints.push({
      severity,
      line,
      message,
      entity: entity ? { kind: entity.kind, name: entity.name } : null,
      field: entity?.field ?? null,
      ref: null,
    });
  }
  return hints;
}

/**
 * The text `haproxy -c` checks: the rendering with its `server-state-file` moved to the
 * temp dir (where an empty state is written). `haproxy -c` loads that file, the runtime dump of the running worker
 * (~1 MB and 25–35 ms of the check at 10k servers), although what is being validated is
 * the document, not the runtime state. The one line is ours (`render`, global section),
 * replaced in place: line numbers, and so hints, are unchanged.
 */
export function withoutRuntimeState(cfg: string, runDir: string, tmpDir: string): string {
  const line = `\n    server-state-file ${runtimePaths(runDir).stateFile}\n`;
  return cfg.replace(line, `\n    server-state-file ${runtimePaths(tmpDir).stateFile}\n`);
}

/** What a caller does while a validation runs (see `validateDocument`). */
export interface ValidationHooks {
  /** Right after the rendering, before its files are written. */
  onRendered?: (r: Rendered) => void;
  /** Once `haproxy -c` runs: this process is idle until it exits. */
  onChecking?: () => void;
}

/** Render into a fresh temp dir (maps included) and run `haproxy -c` there. */
export async function validateDocument(
  bin: string,
  doc: StateDocument,
  opts: RenderOptions,
  tmpRoot = tmpdir(),
  hooks: ValidationHooks = {},
): Promise<CheckResult & { rendered: Rendered }> {
  // The temp dir and the file haproxy reads are made synchronously: both are on the PUT's
  // critical path, and through libuv's pool they wait behind whatever else is queued there
  // (0.6–1.9 ms and ~1 ms measured at 10 backends; a 2.7 MB write at 10k is ~2 ms either way).
  const dir = mkdtempSync(join(tmpRoot, "ep-hacheck-"));
  try {
    const rendered = render(doc, { ...opts, mapDir: join(dir, "maps") });
    hooks.onRendered?.(rendered);
    if (rendered.maps.length > 0) {
      await import("node:fs/promises").then((fs) => fs.mkdir(join(dir, "maps")));
      await Promise.all(rendered.maps.map((m) => writeFile(m.path, m.content)));
    }
    const cfgPath = join(dir, "haproxy.cfg");
    writeFileSync(cfgPath, withoutRuntimeState(rendered.cfg, opts.runDir, dir));
    // An empty state (format version line only): no "can't open server state file" warning.
    writeFileSync(runtimePaths(dir).stateFile, "1\n");
    const checking = haproxyCheck(bin, cfgPath);
    hooks.onChecking?.();
    const r = await checking;
    const hints = parseHints(r.output, cfgPath, rendered.entities);
    return { valid: r.ok, output: r.output.replaceAll(dir, "<candidate>"), hints, checkMs: r.ms, rendered };
  } finally {
    // Not awaited: the verdict does not depend on the removal (~2 ms at 1,000 backends).
    void rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
