/**
 * @edgeplane/launcher — public entry for tests and tooling. The program is main.ts
 * (`make up`); this exports its parts: config, secrets, the generic supervisor and the
 * service environment contract. Interfaces and factories only, no implementation classes.
 */
export { ConfigError, type LauncherConfig, LogLevel, loadConfig } from "./config.ts";
export { createLogger, type Logger, silentLogger } from "./log.ts";
export { hasJetStream, type NatsHandle, startNats } from "./nats.ts";
export { canConnect, freePort, waitUntil } from "./ports.ts";
export { type PostgresHandle, startEmbeddedPostgres } from "./postgres.ts";
export { pendingSetupToken, probeReady, setupBanner, waitReady } from "./ready.ts";
export { acquireLock, isAlive, processStartTime, reapStale } from "./runfiles.ts";
export { loadSecrets, SECRETS_FILE, type Secrets } from "./secrets.ts";
export {
  type MeshContext,
  migrateEnv,
  migrateScript,
  SERVICES,
  type ServiceName,
  serviceEnv,
  serviceMain,
  setupTokenFile,
} from "./services.ts";
export {
  type BackoffPolicy,
  backoffDelay,
  type Child,
  type ChildSpec,
  createSupervisor,
  DEFAULT_BACKOFF,
  type ExitInfo,
  firstExit,
  type Supervisor,
  type SupervisorOptions,
} from "./supervisor.ts";
