/**
 * Issue 7 glue: what the agent starts besides convergence — the log listener (before the
 * first render, its address is in the configuration), then runtime intents, the stats
 * sampler and the runtime/stats API once the node agent runs. Kept apart from
 * `service.ts` so that file only gains two calls.
 */

import { mkdir } from "node:fs/promises";
import type { HandlerContext, Logger, RouteSpec, ServiceRuntime } from "@edgeplane/proto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { HaproxyAgentEnv } from "./config.ts";
import { type LogListener, startLogListener } from "./logs.ts";
import type { NodeAgent } from "./node.ts";
import { IntentStore, RuntimeNode } from "./runtime.ts";
import { type Commit, registerRuntimeApi } from "./runtime-api.ts";
import { Sampler } from "./sampler.ts";
import type { ClusterStore } from "./store.ts";

type Config = HaproxyAgentEnv;

export const startIssue7 = {
  async beforeAgent(o: {
    config: Config;
    nc: NatsConnection;
    cluster: string;
    node: string;
    dir: string;
    log: Logger;
  }) {
    await mkdir(o.dir, { recursive: true, mode: 0o750 });
    let logs: LogListener | null = null;
    if (o.config.EP_HAPROXY_LOGS) {
      logs = await startLogListener({
        nc: o.nc,
        cluster: o.cluster,
        node: o.node,
        dir: o.dir,
        port: o.config.EP_HAPROXY_LOG_PORT,
        log: o.log,
      });
    }
    const closers: Array<() => Promise<void> | void> = [];
    if (logs) closers.push(() => logs.close());
    return {
      agentOptions: logs ? { logTarget: logs.target } : {},
      async close() {
        for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
      },
      async afterAgent(a: {
        rt: ServiceRuntime<Config>;
        agent: NodeAgent;
        store: ClusterStore;
        serve: <R extends RouteSpec>(
          route: R,
          // biome-ignore lint/suspicious/noExplicitAny: the service's loosened route helper
          handler: (req: any, ctx: HandlerContext) => Promise<unknown>,
        ) => void;
        commit: Commit;
      }) {
        const { rt, agent } = a;
        const { config } = rt;
        const intents = await IntentStore.open(rt.nc, config.EP_STREAM_REPLICAS);
        const runtime = new RuntimeNode({
          agent,
          store: intents,
          cluster: o.cluster,
          node: o.node,
          log: o.log,
        });
        await runtime.start();
        closers.push(() => runtime.stop());
        // Catch up now (the first converge may already have run before the hook was set).
        void runtime.reconcile().catch((err) => o.log.warn({ err }, "initial runtime reconcile failed"));
        const sampler = new Sampler({
          nc: rt.nc,
          proc: agent.proc,
          cluster: o.cluster,
          node: o.node,
          intervalMs: config.EP_HAPROXY_SAMPLE_MS,
          log: o.log,
          running: () => agent.installed && agent.status.state !== "stopped",
          deferWhile: () => agent.held,
        });
        sampler.start();
        closers.push(() => sampler.stop());
        registerRuntimeApi({
          nc: rt.nc,
          js: rt.js,
          svc: rt.svc as never,
          log: o.log,
          cluster: o.cluster,
          node: o.node,
          agent,
          store: a.store,
          intents,
          runtime,
          sampler,
          heartbeatMs: config.EP_HAPROXY_HEARTBEAT_MS,
          applyWaitMs: config.EP_HAPROXY_APPLY_WAIT_MS,
          serve: a.serve,
          commit: a.commit,
        });
      },
    };
  },
};
