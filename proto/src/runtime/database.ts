/**
 * The PostgreSQL pool of a service that owns tables (auth, adapters): one per process,
 * sized by EP_DB_POOL_MAX, pinged by /healthz, ended on stop. `pg` is imported when the
 * pool opens, so services without a database never load it.
 */
import type pg from "pg";
import type { ServiceRuntime } from "./service.ts";

/** The settings the pool reads (each service's env schema declares them). */
export interface DatabaseEnv {
  DATABASE_URL: string;
  EP_DB_POOL_MAX: number;
}

export interface ServicePool {
  /**
   * Open the pool (in `setup`). It is ended on stop after the stop work registered later
   * (`onStop` runs last-in first-out), so that work can still use it.
   */
  open(rt: ServiceRuntime<DatabaseEnv>): Promise<pg.Pool>;
  /** For `RunServiceOptions.healthy`: true once open and answering. */
  healthy(): Promise<boolean>;
}

export function servicePool(): ServicePool {
  let pool: pg.Pool | undefined;
  return {
    async open(rt) {
      const { default: pgModule } = await import("pg");
      const { config, log } = rt;
      const db = new pgModule.Pool({ connectionString: config.DATABASE_URL, max: config.EP_DB_POOL_MAX });
      pool = db;
      // An idle client's error (the server restarted, a connection dropped) is emitted on the
      // pool; unhandled, it would end the process.
      db.on("error", (err) => log.error({ err }, "idle database client failed"));
      rt.onStop(() => db.end());
      return db;
    },
    async healthy() {
      await pool?.query("SELECT 1");
      return pool !== undefined;
    },
  };
}
