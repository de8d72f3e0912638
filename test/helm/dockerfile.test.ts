/**
 * image - the Dockerfile, linted by structure (no Docker engine and no hadolint here):
 * stages and default target, pinned base, non-root numeric USER in every final image,
 * production-only `npm ci`, the agent tools, no secrets baked in, every COPY source
 * present; and the entry point script really starts the service its argument names.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServer, startNats } from "../harness/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (p: string) => readFileSync(`${ROOT}${p}`, "utf8");

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  name: string;
  from: string;
  body: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): { preamble: Instruction[]; stages: Stage[] } {
  const instructions: Instruction[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] as string;
    if (/^\s*(#|$)/.test(line)) continue;
    const start = i + 1;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i] as string;
      if (/^\s*#/.test(next)) continue;
      line = `${line.replace(/\\\s*$/, " ")}${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`line ${start}: cannot parse ${JSON.stringify(line)}`);
    instructions.push({ op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start });
  }
  const preamble: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: bad FROM`);
      stages.push({ from: m[1] as string, name: m[2] ?? String(stages.length), body: [] });
    } else if (stages.length === 0) preamble.push(ins);
    else stages[stages.length - 1]?.body.push(ins);
  }
  return { preamble, stages };
}

const dockerfile = parseDockerfile(read("Dockerfile"));
const stage = (name: string) => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};
const ops = (s: Stage, op: string) => s.body.filter((i) => i.op === op);
const SECRETISH = /secret|passw|token|pepper|private|credential|api[_-]?key|sealing/i;

describe("image - Dockerfile structure", () => {
  it("has the stages, and the app image is the default (last) target", () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(["manifests", "deps", "runtime", "agent", "app"]);
    expect(dockerfile.stages.at(-1)?.name).toBe("app");
  });

  it("builds every stage from one base pinned to an exact Node 24 slim release", () => {
    const arg = dockerfile.preamble.find((i) => i.op === "ARG" && i.args.startsWith("NODE_IMAGE="));
    expect(arg?.args).toMatch(/^NODE_IMAGE=node:24\.\d+\.\d+-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/);
    const names = new Set<string>();
    const base = ["$", "{NODE_IMAGE}"].join(""); // the literal `${NODE_IMAGE}`
    for (const s of dockerfile.stages) {
      expect(s.from === base || names.has(s.from), `${s.name} FROM ${s.from}`).toBe(true);
      names.add(s.name);
    }
    expect(stage("agent").from).toBe("runtime");
    expect(stage("app").from).toBe("runtime");
  });

  it("runs both final images as a numeric non-root user, with no setuid binaries", () => {
    for (const name of ["app", "agent"]) {
      const users = ops(stage(name), "USER");
      const last = users.at(-1)?.args ?? "";
      expect(last, `${name} USER`).toMatch(/^\d+(:\d+)?$/);
      expect(Number(last.split(":")[0]), `${name} uid`).toBeGreaterThanOrEqual(1000);
      expect(ops(stage(name), "RUN").some((r) => /-perm \/6000 .*chmod a-s/.test(r.args))).toBe(true);
    }
    // The shared runtime creates that user.
    expect(ops(stage("runtime"), "RUN").some((r) => /useradd .*--uid 10001/.test(r.args))).toBe(true);
  });

  it("installs production dependencies only, from the lock, without install scripts", () => {
    const run = ops(stage("deps"), "RUN")
      .map((r) => r.args)
      .join("\n");
    expect(run).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(run).not.toMatch(/--include=dev|npm i(nstall)? (?!.*--omit=dev)/);
    // Only proto and the services: test/, bench/ and launcher/ dependencies stay out.
    expect(run).toMatch(/--workspace proto --workspace services/);
    // The runtime takes node_modules from deps, never installs again.
    for (const s of ["runtime", "app", "agent"])
      expect(ops(stage(s), "RUN").some((r) => /\bnpm (ci|i|install)\b/.test(r.args))).toBe(false);
  });

  it("selects the service by argument through tini and the entry point script", () => {
    const entry = ops(stage("runtime"), "ENTRYPOINT")[0]?.args ?? "";
    expect(JSON.parse(entry)).toEqual(["/usr/bin/tini", "--", "/usr/local/bin/edgeplane"]);
    expect(
      ops(stage("runtime"), "COPY").some((c) =>
        c.args.endsWith("deploy/image/entrypoint.sh /usr/local/bin/edgeplane"),
      ),
    ).toBe(true);
  });

  it("gives the agent image haproxy and WireGuard tools, apt without recommends", () => {
    const run = ops(stage("agent"), "RUN")
      .map((r) => r.args)
      .join("\n");
    for (const pkg of ["haproxy", "wireguard-tools", "wireguard-go", "iproute2"]) expect(run).toContain(pkg);
    for (const s of dockerfile.stages)
      for (const r of ops(s, "RUN").filter((x) => x.args.includes("apt-get install"))) {
        expect(r.args, `${s.name} line ${r.line}`).toContain("--no-install-recommends");
        expect(r.args, `${s.name} line ${r.line}`).toContain("rm -rf /var/lib/apt/lists/*");
      }
  });

  it("bakes no secret in: no secret-named ENV/ARG, and secret files stay out of the context", () => {
    const all = [...dockerfile.preamble, ...dockerfile.stages.flatMap((s) => s.body)];
    for (const i of all.filter((x) => x.op === "ENV" || x.op === "ARG"))
      expect(i.args, `line ${i.line}`).not.toMatch(SECRETISH);
    const ignore = read(".dockerignore").split("\n");
    for (const p of [".edgeplane", ".git", "**/node_modules", ".tmp"]) expect(ignore).toContain(p);
  });

  it("copies only sources that exist in the repository", () => {
    for (const s of dockerfile.stages)
      for (const c of ops(s, "COPY").filter((x) => !x.args.includes("--from="))) {
        const parts = c.args.split(/\s+/).filter((p) => !p.startsWith("--"));
        for (const src of parts.slice(0, -1))
          expect(existsSync(`${ROOT}${src}`), `${s.name}: COPY ${src}`).toBe(true);
      }
  });
});

describe("image - entry point", () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNats({ jetstream: true });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  const entry = (args: string[], env: Record<string, string> = {}) => {
    const proc = spawn("sh", [`${ROOT}deploy/image/entrypoint.sh`, ...args], {
      env: {
        PATH: `${process.execPath.replace(/\/node$/, "")}:${process.env.PATH ?? ""}`,
        EDGEPLANE_HOME: ROOT,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    proc.stderr.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    return { proc, output: () => out, exited };
  };

  it("lists the services, and refuses names that are not one", async () => {
    const help = entry(["help"]);
    expect(await help.exited).toBe(0);
    for (const s of ["gateway", "auth", "adapters", "stats", "haproxy-agent", "wg-agent"])
      expect(help.output()).toContain(s);
    for (const bad of ["../proto/src/runtime/migrate", "Gateway", "nope", "--inspect"]) {
      const r = entry([bad]);
      expect(await r.exited, bad).toBe(64);
    }
  });

  it("starts the named service, which drains and exits 0 on SIGTERM", async () => {
    const r = entry(["stats"], { EP_NATS_URL: nats.url, EP_LOG_LEVEL: "info" });
    const deadline = Date.now() + 20_000;
    while (!/"msg":"ep-stats started"/.test(r.output()) && Date.now() < deadline) {
      if (r.proc.exitCode !== null) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(r.output()).toMatch(/"msg":"ep-stats started"/);
    // `exec`: the shell became node, so the signal reaches the service itself.
    r.proc.kill("SIGTERM");
    expect(await r.exited).toBe(0);
    expect(r.output()).toContain('"msg":"stopped"');
  });
});
