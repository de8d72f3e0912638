/**
 * Whether a Docker engine answers, so the harness can prefer testcontainers over local
 * binaries. Only a real `GET /_ping` counts: a docker CLI or a dead socket file does not.
 *
 * Engine: `DOCKER_HOST` (`unix://…` or `tcp://…`) if set, else `/var/run/docker.sock`.
 * `EDGEPLANE_TEST_DOCKER=0` forces local binaries even when an engine answers.
 */
import { existsSync } from "node:fs";
import { type RequestOptions, request } from "node:http";

let cached: Promise<boolean> | undefined;

/** Where the engine's HTTP API is reached, or undefined when no engine is configured. */
function endpoint(env: NodeJS.ProcessEnv): RequestOptions | undefined {
  const host = env.DOCKER_HOST;
  if (host?.startsWith("unix://")) return { socketPath: host.slice("unix://".length) };
  if (host?.startsWith("tcp://")) {
    const url = new URL(host.replace(/^tcp:/, "http:"));
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  if (!host && existsSync("/var/run/docker.sock")) return { socketPath: "/var/run/docker.sock" };
  return undefined;
}

/** One request to the engine's API; resolves with status and body, rejects on no answer. */
export function dockerRequest(
  method: string,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ status: number; body: string }> {
  const target = endpoint(env);
  if (!target) return Promise.reject(new Error("no Docker engine configured"));
  return new Promise((resolve, reject) => {
    const req = request({ ...target, method, path, timeout: 1500 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("Docker engine did not answer in time")));
    req.on("error", reject);
    req.end();
  });
}

/** True when a Docker engine answers `GET /_ping` with `OK` (memoised per process). */
export function dockerAvailable(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (env.EDGEPLANE_TEST_DOCKER === "0") return Promise.resolve(false);
  cached ??= dockerRequest("GET", "/_ping", env).then(
    (res) => res.status === 200 && res.body.trim() === "OK",
    () => false,
  );
  return cached;
}
