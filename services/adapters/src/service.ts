/**
 * The adapters service: stateless workers in the `q` queue group. Controllers and
 * changes live in PostgreSQL; every worker answers every route and runs the sweeper
 * (commit-confirm deadlines, stuck applies), so any worker can die at any time.
 */
import {
  adapterFeature,
  adaptersChangesApplyRoute,
  adaptersChangesConfirmRoute,
  adaptersChangesDiscardRoute,
  adaptersChangesGetRoute,
  adaptersChangesListRoute,
  adaptersControllersCreateRoute,
  adaptersControllersDeleteRoute,
  adaptersControllersGetRoute,
  adaptersControllersListRoute,
  adaptersControllersTestRoute,
  adaptersControllersUpdateRoute,
  adaptersReadRoute,
  adaptersStageRoute,
  adaptersVendorsRoute,
  newId,
  type RunServiceOptions,
  ServiceName,
  servicePool,
  validationError,
  withMeta,
} from "@edgeplane/proto";
import { AdaptersEnv } from "./config.ts";
import {
  createController,
  deleteController,
  listControllers,
  updateController,
  vendorList,
} from "./controllers.ts";
import { driverFor } from "./drivers/index.ts";
import { apply, confirm, connOf, type Deps, discard, recordTransition, stage, sweep } from "./pipeline.ts";
import { createSealer } from "./seal.ts";
import {
  type ChangeRow,
  changeView,
  controllerView,
  getChange,
  getController,
  historyOf,
  scopeOf,
} from "./store.ts";

export const VERSION = "0.1.0";

const database = servicePool();

export const service: RunServiceOptions<typeof AdaptersEnv> = {
  name: ServiceName.Adapters,
  version: VERSION,
  description: "Vendor device adapters",
  env: AdaptersEnv,
  healthy: database.healthy,
  async setup(rt) {
    const { config, svc, js, log } = rt;
    const db = await database.open(rt);
    const deps: Deps = {
      db,
      sealer: createSealer(config.EP_SEALING_KEY),
      config,
      js,
      log,
      instance: config.EP_SERVICE_INSTANCE ?? `${config.EP_NODE_NAME}-${process.pid}`,
    };
    log.info({ read_only: config.EP_ADAPTER_READ_ONLY }, "adapters deployment gate");

    svc.route(adaptersVendorsRoute, () => vendorList());

    // --- controllers ---
    svc.route(adaptersControllersListRoute, async (req, ctx) => {
      const { rows, total } = await listControllers(deps, req.query, ctx.principal);
      return {
        items: rows.map(controllerView),
        total,
        page: req.query.page,
        per_page: req.query.per_page,
        pages: Math.max(1, Math.ceil(total / req.query.per_page)),
      };
    });
    svc.route(adaptersControllersCreateRoute, async (req, ctx) =>
      controllerView(await createController(deps, req.body, ctx)),
    );
    svc.route(adaptersControllersGetRoute, async (req, ctx) =>
      controllerView(await getController(db, req.params.id, ctx.principal)),
    );
    svc.route(adaptersControllersUpdateRoute, async (req, ctx) =>
      controllerView(await updateController(deps, req.params.id, req.body, ctx)),
    );
    svc.route(adaptersControllersDeleteRoute, async (req, ctx) => {
      const discarded = await deleteController(deps, req.params.id, ctx);
      for (const ch of discarded)
        await recordTransition(deps, ch, "staged", ctx, { note: "controller deleted" });
      return withMeta({}, { status: 204 });
    });
    svc.route(adaptersControllersTestRoute, async (req, ctx) => {
      const ctl = await getController(db, req.params.id, ctx.principal);
      const t0 = performance.now();
      const device = await driverFor(ctl.vendor).test(
        connOf(deps, ctl, config.EP_ADAPTER_READ_TIMEOUT_MS, ctx.log),
      );
      return { ok: true, latency_ms: Math.round((performance.now() - t0) * 100) / 100, device };
    });
    svc.route(adaptersReadRoute, async (req, ctx) => {
      const ctl = await getController(db, req.params.id, ctx.principal);
      const f = adapterFeature(ctl.vendor, req.params.feature);
      if (!f?.readable)
        throw validationError([
          {
            field: "feature",
            message: f
              ? `${ctl.vendor} ${f.name} cannot be read`
              : `the ${ctl.vendor} driver has no feature '${req.params.feature}'`,
            type: "invalid_value",
          },
        ]);
      const items = await driverFor(ctl.vendor).read(
        connOf(deps, ctl, config.EP_ADAPTER_READ_TIMEOUT_MS, ctx.log),
        f.name,
      );
      return { controller_id: ctl.id, feature: f.name, items, fetched_at: new Date().toISOString() };
    });

    // --- changes ---
    svc.route(adaptersStageRoute, async (req, ctx) =>
      changeView(
        await stage(
          deps,
          {
            controllerId: req.params.id,
            feature: req.params.feature,
            operation: req.query.operation,
            body: req.body,
          },
          ctx,
          () => newId("chg"),
        ),
      ),
    );
    svc.route(adaptersChangesListRoute, async (req, ctx) => {
      const q = req.query;
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (sql: string, v: unknown) => {
        args.push(v);
        where.push(sql.replace("?", `$${args.length}`));
      };
      if (q.controller_id) add("controller_id = ?", q.controller_id);
      if (q.status) add("status = ?", q.status);
      if (q.feature) add("feature = ?", q.feature);
      const scope = scopeOf(ctx.principal);
      if (scope) add("controller_id = ANY(?)", scope);
      const w = where.length ? `WHERE ${where.join(" AND ")}` : "";
      const total = Number(
        (await db.query<{ n: string }>(`SELECT count(*) AS n FROM adapter_changes ${w}`, args)).rows[0]?.n ??
          0,
      );
      const rows = (
        await db.query<ChangeRow>(
          `SELECT * FROM adapter_changes ${w} ORDER BY created_at DESC, id LIMIT ${q.per_page} OFFSET ${(q.page - 1) * q.per_page}`,
          args,
        )
      ).rows;
      return {
        items: rows.map((r) => changeView(r)),
        total,
        page: q.page,
        per_page: q.per_page,
        pages: Math.max(1, Math.ceil(total / q.per_page)),
      };
    });
    svc.route(adaptersChangesGetRoute, async (req, ctx) => {
      const row = await getChange(db, req.params.id, ctx.principal);
      return changeView(row, await historyOf(db, row.id));
    });
    svc.route(adaptersChangesApplyRoute, async (req, ctx) => {
      const row = await apply(deps, req.params.id, req.body, ctx);
      return changeView(row, await historyOf(db, row.id));
    });
    svc.route(adaptersChangesConfirmRoute, async (req, ctx) => {
      const row = await confirm(deps, req.params.id, ctx);
      return changeView(row, await historyOf(db, row.id));
    });
    svc.route(adaptersChangesDiscardRoute, async (req, ctx) =>
      changeView(await discard(deps, req.params.id, ctx)),
    );

    // --- the sweeper: every worker runs one; the database keeps them apart ---
    let running: Promise<unknown> | undefined;
    const timer = setInterval(() => {
      if (running) return;
      running = sweep(deps)
        .catch((err: unknown) => log.error({ err }, "sweep failed"))
        .finally(() => {
          running = undefined;
        });
    }, config.EP_ADAPTER_SWEEP_MS);
    timer.unref();
    // Runs before the pool ends (registered after it).
    rt.onStop(async () => {
      clearInterval(timer);
      await running;
    });
  },
};
