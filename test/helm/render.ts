/**
 * Running the real Helm binary against `deploy/helm/edgeplane`, offline.
 *
 * The official NATS chart is a declared dependency (condition `nats.enabled`) that
 * cannot be downloaded here, and `helm template` refuses a chart whose declared
 * dependency is missing from charts/, whatever its condition. So rendering uses a copy
 * of the chart with the `dependencies:` block removed; our templates are unchanged, and
 * `.Values.nats.*` still flows to them, so both `nats.enabled` modes render. The
 * declaration itself is checked separately (Chart.yaml, `helm dependency list`, and
 * `helm lint` on the real chart, which only warns that charts/ lacks it).
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { findHelm, helmEnv } from "./helm-bin.ts";

const run = promisify(execFile);

export const CHART_DIR = fileURLToPath(new URL("../../deploy/helm/edgeplane", import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: manifests are arbitrary JSON trees
type Tree = any;
/** A rendered Kubernetes object (loosely typed: tests read what they assert on). */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: Tree };
  [k: string]: Tree;
};

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ChartRenderer {
  helm: string;
  /** The copy of the chart without its dependency block. */
  renderable: string;
  /** Runs helm with the isolated environment; never throws on a non-zero exit. */
  exec(args: string[]): Promise<HelmResult>;
  /** `helm template` with values files (relative to the chart) and `--set` pairs. */
  template(opts?: {
    files?: string[];
    set?: Record<string, string | number | boolean>;
    release?: string;
  }): Promise<HelmResult & { docs: Manifest[] }>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function chartRenderer(): Promise<ChartRenderer> {
  const helm = await findHelm();
  const home = await mkdtemp(join(tmpdir(), "ep-helm-"));
  const renderable = join(home, "edgeplane");
  await cp(CHART_DIR, renderable, { recursive: true });
  const chartYaml = await readFile(join(renderable, "Chart.yaml"), "utf8");
  await writeFile(join(renderable, "Chart.yaml"), chartYaml.replace(/^dependencies:[\s\S]*$/m, ""));
  const env = helmEnv(home);

  const exec = async (args: string[]): Promise<HelmResult> => {
    try {
      const r = await run(helm, args, { env, maxBuffer: 32 << 20 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return {
        code: typeof e.code === "number" ? e.code : 1,
        stdout: e.stdout ?? "",
        stderr: e.stderr ?? "",
      };
    }
  };

  return {
    helm,
    renderable,
    exec,
    async template(opts = {}) {
      const args = ["template", opts.release ?? "edge", renderable, "--namespace", "edgeplane"];
      for (const f of opts.files ?? []) args.push("--values", join(renderable, f));
      for (const [k, v] of Object.entries(opts.set ?? {})) args.push("--set", `${k}=${v}`);
      const r = await exec(args);
      const docs =
        r.code === 0
          ? parseAllDocuments(r.stdout)
              .map((d) => d.toJS() as Manifest | null)
              .filter((d): d is Manifest => d !== null && typeof d === "object")
          : [];
      return { ...r, docs };
    },
    [Symbol.asyncDispose]: () => rm(home, { recursive: true, force: true }),
  };
}

/** Kubernetes JSON-schema validation of one object (kubernetes-models, offline). */
export async function validateManifest(doc: Manifest): Promise<void> {
  const modules: Record<string, string> = {
    v1: "kubernetes-models/v1",
    "apps/v1": "kubernetes-models/apps/v1",
    "autoscaling/v2": "kubernetes-models/autoscaling/v2",
    "policy/v1": "kubernetes-models/policy/v1",
    "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
    "batch/v1": "kubernetes-models/batch/v1",
    "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
  };
  const path = modules[doc.apiVersion];
  if (!path) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  const mod = (await import(path)) as Record<string, new (d: unknown) => { validate(): void }>;
  const Model = mod[doc.kind];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc).validate();
}
