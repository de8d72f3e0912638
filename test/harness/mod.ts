/**
 * @edgeplane/test: the test harness. Real servers (nats-server, PostgreSQL) per test on
 * ephemeral ports, disposed with `await using`, plus small polling and temp-dir helpers.
 *
 * Owns starting and cleaning up test infrastructure; it must not know any service's
 * internals, and it never shares one server across test files.
 */
export {
  type ClusterNode,
  type NatsCluster,
  type StartNatsClusterOptions,
  startNatsCluster,
} from "./cluster.ts";
export { type ControlPlane, OWNER_PASSWORD, startControlPlane } from "./control-plane.ts";
export { dockerAvailable } from "./docker.ts";
export { authDatabase, type ServiceDir, type ServiceProcess, spawnService, TEST_PEPPER } from "./mesh.ts";
export { findNatsServer, type NatsServer, type StartNatsOptions, startNats } from "./nats.ts";
export {
  connectVeth,
  createNetns,
  type ExecResult,
  hostRun,
  type Netns,
  requireRoot,
  type Veth,
} from "./netns.ts";
export { freePort } from "./ports.ts";
export { adminDatabaseUrl, createTestDatabase, type TestDatabase } from "./postgres.ts";
export { findStrays, killStrays } from "./strays.ts";
export { type TmpDir, tmpDir } from "./tmp.ts";
export { type WaitForOptions, waitFor } from "./wait.ts";
