/**
 * helm chart - `deploy/helm/edgeplane` through a real Helm 3.17 binary: lint, the NATS
 * dependency declaration, schema-rejected values, and assertions on the rendered
 * manifests (each validated against the Kubernetes / Prometheus Operator JSON schemas
 * of kubernetes-models): non-root containers, probes, HPA + PDB per Deployment,
 * DaemonSets on the right node labels, no secret in plain values, NetworkPolicies.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { CHART_DIR, type ChartRenderer, chartRenderer, type Manifest, validateManifest } from "./render.ts";

const DEPLOYMENTS = ["gateway", "auth", "adapters", "stats"] as const;
const SECRETISH = /PEPPER|SECRET|PASSWORD|PASSWD|TOKEN|SEALING|PRIVATE|CREDENTIAL|_KEY$|^DATABASE_URL$/;
const RELEASE = "edge";
const FULL = ["ci/test-values.yaml"];

let r: ChartRenderer;
let full: Manifest[];

beforeAll(async () => {
  r = await chartRenderer();
  const res = await r.template({ files: FULL });
  if (res.code !== 0) throw new Error(`helm template failed:\n${res.stderr}`);
  full = res.docs;
});
afterAll(async () => {
  await r?.[Symbol.asyncDispose]();
});

const byKind = (docs: Manifest[], kind: string) => docs.filter((d) => d.kind === kind);
const named = (docs: Manifest[], kind: string, name: string) => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!d)
    throw new Error(`no ${kind} ${name} in ${docs.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")}`);
  return d;
};
const workloads = (docs: Manifest[]) =>
  docs.filter((d) => ["Deployment", "DaemonSet", "Job"].includes(d.kind));
// biome-ignore lint/suspicious/noExplicitAny: manifest trees
type Any = any;
const podSpec = (w: Manifest): Any => w.spec.template.spec;
const containersOf = (w: Manifest): Any[] => [
  ...(podSpec(w).initContainers ?? []),
  ...(podSpec(w).containers ?? []),
];
const envOf = (c: Any): Record<string, Any> => Object.fromEntries((c.env ?? []).map((e: Any) => [e.name, e]));
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

describe("helm chart - lint and dependency", () => {
  it("lints clean: the real chart only warns that charts/ lacks the NATS dependency", async () => {
    const res = await r.exec(["lint", CHART_DIR, "--values", join(CHART_DIR, "ci/test-values.yaml")]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain("0 chart(s) failed");
    const warnings = res.stdout.split("\n").filter((l) => /\[(WARNING|ERROR)\]/.test(l));
    expect(warnings).toEqual([expect.stringContaining("missing these dependencies: nats")]);
    // Without the dependency block, --strict (warnings are errors) passes too.
    const strict = await r.exec([
      "lint",
      r.renderable,
      "--strict",
      "--values",
      join(r.renderable, "ci/test-values.yaml"),
    ]);
    expect(strict.code, strict.stdout + strict.stderr).toBe(0);
  });

  it("declares the official NATS chart as an optional dependency (condition nats.enabled)", async () => {
    const chart = parseYaml(await readFile(join(CHART_DIR, "Chart.yaml"), "utf8")) as Any;
    expect(chart.apiVersion).toBe("v2");
    expect(chart.dependencies).toEqual([
      {
        name: "nats",
        version: expect.stringMatching(/^1\./),
        repository: "https://nats-io.github.io/k8s/helm/charts/",
        condition: "nats.enabled",
      },
    ]);
    const list = await r.exec(["dependency", "list", CHART_DIR]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /nats\s+1\.x\.x\s+https:\/\/nats-io\.github\.io\/k8s\/helm\/charts\/\s+missing/,
    );
    // Values for the dependency: JetStream on, a 3-node cluster.
    const values = parseYaml(await readFile(join(CHART_DIR, "values.yaml"), "utf8")) as Any;
    expect(values.nats.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(values.nats.config.jetstream.enabled).toBe(true);
    expect(values.streamReplicas).toBe(3);
  });
});

describe("helm chart - values schema", () => {
  const bad: Array<[string, Record<string, string | number | boolean>, RegExp]> = [
    ["no PostgreSQL Secret", { "postgres.existingSecret": "" }, /postgres\.existingSecret/],
    ["external NATS without a URL", { "nats.url": "" }, /nats\.url/],
    ["a mistyped key", { "gateway.replicaz": 3 }, /replicaz/],
    ["a secret in plain env", { "auth.env.EP_KEY_PEPPER": "hunter2hunter2" }, /EP_KEY_PEPPER/],
    ["a token in plain env", { "gateway.env.EP_METRICS_TOKEN": "abc" }, /EP_METRICS_TOKEN/],
    ["zero replicas", { "auth.replicas": 0 }, /auth\.replicas/],
    ["more stream replicas than allowed", { streamReplicas: 7 }, /streamReplicas/],
    ["a bad log level", { logLevel: "loud" }, /logLevel/],
    ["a bad HAProxy cluster name", { "haproxyAgent.clusters[0].name": "Edge A" }, /clusters/],
    ["a bad NATS URL", { "nats.url": "http://nats:4222" }, /nats\.url/],
    ["a bad image digest", { "image.digest": "latest" }, /image\.digest/],
  ];
  for (const [what, set, message] of bad) {
    it(`rejects ${what} at install time`, async () => {
      const res = await r.template({ files: FULL, set });
      expect(res.code).not.toBe(0);
      expect(res.stderr).toMatch(/values don't meet the specifications of the schema/);
      expect(res.stderr).toMatch(message);
    });
  }

  it("requires the PostgreSQL Secret with the defaults too", async () => {
    const res = await r.template();
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/postgres\.existingSecret/);
  });
});

describe("helm chart - rendered manifests", () => {
  it("are valid Kubernetes (and ServiceMonitor) objects", async () => {
    expect(full.length).toBeGreaterThan(20);
    for (const doc of full) {
      try {
        await validateManifest(doc);
      } catch (err) {
        throw new Error(`${doc.kind}/${doc.metadata.name}: ${(err as Error).message}`);
      }
    }
    const kinds = new Set(full.map((d) => d.kind));
    for (const k of [
      "Deployment",
      "DaemonSet",
      "HorizontalPodAutoscaler",
      "PodDisruptionBudget",
      "Service",
      "Ingress",
      "ServiceMonitor",
      "NetworkPolicy",
      "Secret",
      "Job",
    ])
      expect(kinds, k).toContain(k);
  });

  it("run every container non-root, read-only, without capabilities — wg-agent: root with NET_ADMIN only", () => {
    for (const w of workloads(full)) {
      const pod = podSpec(w).securityContext ?? {};
      expect(podSpec(w).automountServiceAccountToken, w.metadata.name).toBe(false);
      for (const c of containersOf(w)) {
        const sc = c.securityContext ?? {};
        const where = `${w.kind}/${w.metadata.name}/${c.name}`;
        expect(sc.readOnlyRootFilesystem, where).toBe(true);
        expect(sc.privileged ?? false, where).toBe(false);
        expect(sc.capabilities?.drop, where).toEqual(["ALL"]);
        expect(sc.seccompProfile?.type ?? pod.seccompProfile?.type, where).toBe("RuntimeDefault");
        if (c.name === "wg-agent") {
          expect(sc.capabilities.add, where).toEqual(["NET_ADMIN"]);
          expect(sc.allowPrivilegeEscalation, where).toBe(false);
          continue;
        }
        expect(sc.runAsNonRoot ?? pod.runAsNonRoot, where).toBe(true);
        expect(sc.runAsUser ?? pod.runAsUser, where).toBeGreaterThanOrEqual(1000);
        if (c.name === "haproxy-agent") {
          // May bind ports < 1024 through haproxy's file capability, and nothing else.
          expect(sc.capabilities.add, where).toEqual(["NET_BIND_SERVICE"]);
        } else {
          expect(sc.capabilities.add, where).toBeUndefined();
          expect(sc.allowPrivilegeEscalation, where).toBe(false);
        }
      }
    }
  });

  it("probe every long-running container on its health endpoint", () => {
    for (const w of full.filter((d) => d.kind === "Deployment" || d.kind === "DaemonSet")) {
      for (const c of containersOf(w)) {
        const where = `${w.metadata.name}/${c.name}`;
        const ports = Object.fromEntries((c.ports ?? []).map((p: Any) => [p.name, p.containerPort]));
        for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"])
          expect(c[probe], where).toBeDefined();
        if (c.name === "gateway") {
          expect(c.livenessProbe.httpGet).toEqual({ path: "/health", port: "http" });
          expect(c.readinessProbe.httpGet).toEqual({ path: "/api/v1/health/ready", port: "http" });
          expect(Number(envOf(c).EP_HTTP_PORT.value)).toBe(ports.http);
          expect(c.lifecycle.preStop.exec.command[0]).toBe("sleep");
        } else {
          expect(c.livenessProbe.httpGet, where).toEqual({ path: "/healthz", port: "metrics" });
          expect(c.readinessProbe.httpGet, where).toEqual({ path: "/healthz", port: "metrics" });
          // The probed port is the one the service serves /healthz on, on every address.
          expect(Number(envOf(c).EP_HEALTH_PORT.value), where).toBe(ports.metrics);
          expect(envOf(c).EP_HEALTH_HOST.value, where).toBe("0.0.0.0");
        }
        expect(c.resources?.requests?.cpu, where).toBeDefined();
        expect(c.resources?.limits?.memory, where).toBeDefined();
      }
    }
  });

  it("give each stateless service a Deployment, an HPA and a PDB that select it", () => {
    for (const name of DEPLOYMENTS) {
      const dep = named(full, "Deployment", `${RELEASE}-edgeplane-${name}`);
      expect(dep.spec.replicas, name).toBeUndefined(); // the HPA owns the count
      expect(dep.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
      expect(matches(dep.spec.selector.matchLabels, dep.spec.template.metadata.labels)).toBe(true);
      const c = podSpec(dep).containers[0];
      expect(c.args).toEqual([name]);
      expect(c.image).toBe("ghcr.io/edgeplane/edgeplane:0.1.0");
      const hpa = named(full, "HorizontalPodAutoscaler", dep.metadata.name);
      expect(hpa.spec.scaleTargetRef).toEqual({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: dep.metadata.name,
      });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      const pdb = named(full, "PodDisruptionBudget", dep.metadata.name);
      expect(pdb.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
    }
  });

  it("schedule the agents by node label: one haproxy-agent DaemonSet per cluster, wg-agent on gateway nodes", () => {
    const ds = byKind(full, "DaemonSet");
    expect(ds.map((d) => d.metadata.name).sort()).toEqual([
      `${RELEASE}-edgeplane-haproxy-agent-edge-a`,
      `${RELEASE}-edgeplane-haproxy-agent-edge-b`,
      `${RELEASE}-edgeplane-wg-agent`,
    ]);
    for (const cluster of ["edge-a", "edge-b"]) {
      const d = named(full, "DaemonSet", `${RELEASE}-edgeplane-haproxy-agent-${cluster}`);
      const spec = podSpec(d);
      expect(spec.nodeSelector).toEqual({ "edgeplane.io/haproxy-cluster": cluster });
      expect(spec.hostNetwork).toBe(true);
      expect(spec.dnsPolicy).toBe("ClusterFirstWithHostNet");
      const c = spec.containers[0];
      expect(c.image).toBe("ghcr.io/edgeplane/edgeplane-agent:0.1.0");
      expect(c.args).toEqual(["haproxy-agent"]);
      expect(envOf(c).EP_HAPROXY_CLUSTER.value).toBe(cluster);
      expect(envOf(c).EP_NODE_NAME.valueFrom.fieldRef.fieldPath).toBe("spec.nodeName");
      // Two clusters' DaemonSets never select each other's pods.
      expect(d.spec.selector.matchLabels["edgeplane.io/haproxy-cluster"]).toBe(cluster);
    }
    const wg = named(full, "DaemonSet", `${RELEASE}-edgeplane-wg-agent`);
    expect(podSpec(wg).nodeSelector).toEqual({ "edgeplane.io/wireguard-gateway": "true" });
    expect(podSpec(wg).hostNetwork).toBe(true);
    const volumes = Object.fromEntries(podSpec(wg).volumes.map((v: Any) => [v.name, v]));
    expect(volumes.tun.hostPath).toEqual({ path: "/dev/net/tun", type: "CharDevice" });
    expect(volumes.keys.hostPath.path).toBe("/var/lib/edgeplane/wireguard");
    const wgEnv = envOf(podSpec(wg).containers[0]);
    expect(wgEnv.EP_WG_STATE_DIR.value).toBe("/var/lib/edgeplane/wg");
    expect(podSpec(wg).containers[0].volumeMounts).toContainEqual({
      name: "keys",
      mountPath: "/var/lib/edgeplane/wg",
    });
  });

  it("keep secrets out of plain values: secret-looking env comes from Secrets, generated ones are random", async () => {
    const refs = new Set<string>();
    for (const w of workloads(full))
      for (const c of containersOf(w))
        for (const e of c.env ?? []) {
          if (SECRETISH.test(e.name)) {
            expect(e.value, `${w.metadata.name}/${c.name} ${e.name}`).toBeUndefined();
            expect(e.valueFrom?.secretKeyRef, `${w.metadata.name}/${c.name} ${e.name}`).toBeDefined();
          }
          if (e.valueFrom?.secretKeyRef)
            refs.add(`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`);
        }
    expect([...refs].sort()).toEqual(
      [
        "edge-edgeplane-secrets/key-pepper",
        "edge-edgeplane-secrets/sealing-key",
        "edge-edgeplane-secrets/setup-token",
        "edgeplane-db-app/uri",
      ].sort(),
    );
    // The services get what they need, and only that.
    const env = (name: string) =>
      envOf(podSpec(named(full, "Deployment", `${RELEASE}-edgeplane-${name}`)).containers[0]);
    expect(Object.keys(env("gateway")).filter((k) => SECRETISH.test(k))).toEqual([]);
    expect(env("auth").EP_KEY_PEPPER.valueFrom.secretKeyRef.key).toBe("key-pepper");
    // Every auth replica accepts the same first-run token; an existingSecret may lack it.
    expect(env("auth").EP_SETUP_TOKEN.valueFrom.secretKeyRef).toMatchObject({
      key: "setup-token",
      optional: true,
    });
    expect(env("adapters").EP_SEALING_KEY.valueFrom.secretKeyRef.key).toBe("sealing-key");
    const wgEnv = envOf(podSpec(named(full, "DaemonSet", `${RELEASE}-edgeplane-wg-agent`)).containers[0]);
    expect(wgEnv.EP_SEALING_KEY.valueFrom.secretKeyRef.key).toBe("sealing-key");
    for (const s of ["auth", "adapters", "stats"]) expect(env(s).DATABASE_URL, s).toBeDefined();

    // The one Secret the chart renders is generated: another render has other values,
    // and it survives uninstall (losing the pepper invalidates every key).
    const [secret] = byKind(full, "Secret");
    expect(byKind(full, "Secret")).toHaveLength(1);
    expect(secret?.metadata.annotations["helm.sh/resource-policy"]).toBe("keep");
    const again = byKind((await r.template({ files: FULL })).docs, "Secret")[0];
    expect(Object.keys(secret?.data).sort()).toEqual(["key-pepper", "sealing-key", "setup-token"]);
    for (const k of ["key-pepper", "sealing-key", "setup-token"]) {
      expect(secret?.data[k], k).toBeTruthy();
      expect(again?.data[k], k).not.toBe(secret?.data[k]);
    }
    const decoded = (k: string) => Buffer.from(secret?.data[k], "base64").toString();
    expect(decoded("key-pepper")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(decoded("sealing-key"), "base64")).toHaveLength(32);
    // values.yaml itself holds no secret material.
    const values = await readFile(join(CHART_DIR, "values.yaml"), "utf8");
    expect(values).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|ep_[a-z0-9]{16}_|password:\s*\S/i);
  });

  it("expose only the gateway: Service + Ingress for it, headless metrics Services for the rest", () => {
    const gw = named(full, "Service", `${RELEASE}-edgeplane-gateway`);
    expect(gw.spec.type).toBe("ClusterIP");
    expect(gw.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
    for (const s of byKind(full, "Service").filter((x) => x !== gw)) {
      expect(s.spec.clusterIP, s.metadata.name).toBe("None");
      const stats = s.metadata.labels["app.kubernetes.io/component"] === "stats";
      expect(s.spec.ports.map((p: Any) => p.name)).toEqual(
        stats ? ["metrics", "fleet-metrics"] : ["metrics"],
      );
    }
    const ing = named(full, "Ingress", `${RELEASE}-edgeplane-gateway`);
    expect(ing.spec.rules[0].http.paths[0].backend.service).toEqual({
      name: gw.metadata.name,
      port: { name: "http" },
    });
    expect(ing.spec.tls[0].secretName).toBe("edgeplane-tls");
  });

  it("scrape every /metrics with a ServiceMonitor whose selector finds a Service with that port", () => {
    const monitors = byKind(full, "ServiceMonitor");
    expect(monitors.map((m) => m.metadata.labels["app.kubernetes.io/component"]).sort()).toEqual(
      ["adapters", "auth", "gateway", "haproxy-agent", "stats", "wg-agent"].sort(),
    );
    for (const m of monitors) {
      const services = byKind(full, "Service").filter((s) =>
        matches(m.spec.selector.matchLabels, s.metadata.labels),
      );
      expect(services, m.metadata.name).toHaveLength(1);
      for (const ep of m.spec.endpoints) {
        expect(ep.path).toBe("/metrics");
        expect(services[0]?.spec.ports.map((p: Any) => p.name)).toContain(ep.port);
      }
      // …and that Service selects the component's pods.
      const pods = workloads(full).filter((w) =>
        matches(services[0]?.spec.selector, w.spec.template.metadata.labels),
      );
      expect(pods.length, m.metadata.name).toBeGreaterThan(0);
    }
  });

  it("serve the stats service's fleet-wide /metrics on its own port, scraped and let in", () => {
    const dep = named(full, "Deployment", `${RELEASE}-edgeplane-stats`);
    const c = podSpec(dep).containers[0];
    expect(envOf(c).EP_STATS_METRICS_PORT?.value).toBe("9464");
    expect(envOf(c).EP_STATS_METRICS_HOST?.value).toBe("0.0.0.0");
    expect(c.ports).toContainEqual({ name: "fleet-metrics", containerPort: 9464, protocol: "TCP" });
    const sm = byKind(full, "ServiceMonitor").find(
      (m) => m.metadata.labels["app.kubernetes.io/component"] === "stats",
    );
    expect(sm?.spec.endpoints.map((e: Any) => e.port)).toEqual(["metrics", "fleet-metrics"]);
    expect(sm?.spec.endpoints[1].honorLabels).toBe(true);
    const np = byKind(full, "NetworkPolicy").find(
      (p) => p.metadata.labels["app.kubernetes.io/component"] === "stats",
    );
    expect(np?.spec.ingress[0].ports).toContainEqual({ port: "fleet-metrics", protocol: "TCP" });
    // Only the stats service has one.
    for (const d of byKind(full, "Deployment").filter((x) => x !== dep))
      expect(envOf(podSpec(d).containers[0]).EP_STATS_METRICS_PORT, d.metadata.name).toBeUndefined();
  });

  it("deny by default, let only the gateway in, and let services reach only DNS, NATS and PostgreSQL", () => {
    const policies = byKind(full, "NetworkPolicy");
    const deny = named(full, "NetworkPolicy", `${RELEASE}-edgeplane-default-deny`);
    expect(deny.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(deny.spec.ingress).toBeUndefined();
    expect(deny.spec.egress).toBeUndefined();
    for (const w of workloads(full)) {
      const labels = w.spec.template.metadata.labels;
      if (podSpec(w).hostNetwork) continue; // policies do not apply in the host network
      expect(matches(deny.spec.podSelector.matchLabels, labels), w.metadata.name).toBe(true);
      const own = policies.filter((p) => p !== deny && matches(p.spec.podSelector.matchLabels, labels));
      expect(own, w.metadata.name).toHaveLength(1);
      const policy = own[0] as Manifest;
      const component = labels["app.kubernetes.io/component"];
      const ingressPorts = (policy.spec.ingress ?? []).flatMap((rule: Any) =>
        rule.ports.map((p: Any) => p.port),
      );
      const open = (policy.spec.ingress ?? []).filter((rule: Any) => !rule.from);
      if (component === "gateway") {
        expect(open.map((rule: Any) => rule.ports[0].port)).toEqual(["http"]);
      } else {
        expect(open, component).toEqual([]); // nothing else is reachable from anywhere
        expect(
          ingressPorts.every(
            (p: string) => p === "metrics" || (component === "stats" && p === "fleet-metrics"),
          ),
          component,
        ).toBe(true);
      }
      const egressPorts = policy.spec.egress.flatMap((rule: Any) => rule.ports.map((p: Any) => p.port));
      const expected = new Set([53]);
      if (component !== "migrate") expected.add(4222);
      if (["auth", "adapters", "stats", "migrate"].includes(component)) expected.add(5432);
      if (component === "adapters") for (const p of [22, 443, 8443, 8728, 8729]) expected.add(p);
      expect(new Set(egressPorts), component).toEqual(expected);
    }
  });

  it("point every service at NATS with R3 streams, and run the migrations as a pre-upgrade hook", () => {
    for (const w of workloads(full).filter((x) => x.kind !== "Job")) {
      const env = envOf(podSpec(w).containers[0]);
      expect(env.EP_NATS_URL.value, w.metadata.name).toBe(
        "nats://nats-0.nats.nats.svc:4222,nats://nats-1.nats.nats.svc:4222,nats://nats-2.nats.nats.svc:4222",
      );
      expect(env.EP_STREAM_REPLICAS.value).toBe("3");
      expect(env.EP_SERVICE_INSTANCE.valueFrom.fieldRef.fieldPath).toBe("metadata.name");
    }
    const [job] = byKind(full, "Job");
    expect(job?.metadata.annotations["helm.sh/hook"]).toBe("pre-install,pre-upgrade");
    expect(podSpec(job as Manifest).containers[0].args).toEqual(["migrate"]);
  });
});

describe("helm chart - other value sets", () => {
  it("with the NATS dependency: the in-cluster service URL, egress to its pods, no agents by default", async () => {
    const res = await r.template({ set: { "postgres.existingSecret": "db" } });
    expect(res.code, res.stderr).toBe(0);
    const gw = named(res.docs, "Deployment", `${RELEASE}-edgeplane-gateway`);
    expect(envOf(podSpec(gw).containers[0]).EP_NATS_URL.value).toBe("nats://edge-nats.edgeplane.svc:4222");
    const policy = named(res.docs, "NetworkPolicy", `${RELEASE}-edgeplane-gateway`);
    const natsRule = policy.spec.egress.find((rule: Any) => rule.ports[0].port === 4222);
    expect(natsRule.to).toEqual([
      {
        podSelector: {
          matchLabels: { "app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": RELEASE },
        },
      },
    ]);
    expect(byKind(res.docs, "DaemonSet")).toEqual([]);
    expect(byKind(res.docs, "ServiceMonitor")).toEqual([]);
    expect(byKind(res.docs, "Ingress")).toEqual([]);
    for (const doc of res.docs) await validateManifest(doc);
  });

  it("uses an existing secrets Secret instead of generating one", async () => {
    const res = await r.template({ files: FULL, set: { "secrets.existingSecret": "my-secrets" } });
    expect(res.code, res.stderr).toBe(0);
    expect(byKind(res.docs, "Secret")).toEqual([]);
    const auth = named(res.docs, "Deployment", `${RELEASE}-edgeplane-auth`);
    expect(envOf(podSpec(auth).containers[0]).EP_KEY_PEPPER.valueFrom.secretKeyRef.name).toBe("my-secrets");
  });

  it("takes a service's new settings as values, not template edits", async () => {
    const res = await r.template({
      files: FULL,
      set: {
        "auth.env.EP_SESSION_TTL_S": "3600",
        "adapters.secretEnv.EP_VENDOR_TOKEN.secretName": "vendor",
        "adapters.secretEnv.EP_VENDOR_TOKEN.key": "token",
        "nats.credentials.auth.secretName": "nats-auth",
        "gateway.autoscaling.enabled": false,
        "gateway.replicas": 3,
        "stats.image.tag": "0.2.0-rc.1",
      },
    });
    expect(res.code, res.stderr).toBe(0);
    const dep = (n: string) => named(res.docs, "Deployment", `${RELEASE}-edgeplane-${n}`);
    const auth = podSpec(dep("auth"));
    expect(envOf(auth.containers[0]).EP_SESSION_TTL_S.value).toBe("3600");
    expect(envOf(auth.containers[0]).EP_NATS_CREDS.value).toBe("/etc/edgeplane/nats/nats.creds");
    expect(auth.volumes.find((v: Any) => v.name === "nats-creds").secret.secretName).toBe("nats-auth");
    expect(auth.containers[0].volumeMounts).toContainEqual({
      name: "nats-creds",
      mountPath: "/etc/edgeplane/nats",
      readOnly: true,
    });
    expect(envOf(podSpec(dep("adapters")).containers[0]).EP_VENDOR_TOKEN.valueFrom.secretKeyRef).toEqual({
      name: "vendor",
      key: "token",
    });
    expect(dep("gateway").spec.replicas).toBe(3);
    expect(
      res.docs.some((d) => d.kind === "HorizontalPodAutoscaler" && d.metadata.name.endsWith("gateway")),
    ).toBe(false);
    expect(podSpec(dep("stats")).containers[0].image).toBe("ghcr.io/edgeplane/edgeplane:0.2.0-rc.1");
    for (const doc of res.docs) await validateManifest(doc);
  });
});
