/** What every handler module of the auth service gets: stores, connections, config, helpers. */
import type { KeyObject } from "node:crypto";
import {
  type AuditInput,
  buildAuditEvent,
  type EpService,
  Errors,
  type EventInput,
  type HandlerContext,
  type Logger,
  type Principal,
  publishAudit,
  publishEvent,
  Subjects,
} from "@edgeplane/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type pg from "pg";
import type { AuthConfig } from "./config.ts";
import type { SigningKey } from "./signing.ts";

export interface Deps {
  db: pg.Pool;
  nc: NatsConnection;
  js: JetStreamClient;
  kv: KV;
  svc: EpService;
  log: Logger;
  config: AuthConfig;
  pepper: Buffer;
  jwtKey: SigningKey;
  jwtKeyFor: (kid: string | undefined) => Promise<KeyObject | undefined>;
}

/** Publish an audit event and wait for JetStream to store it. */
export function audit(
  d: Deps,
  ctx: Pick<HandlerContext, "principal" | "requestId" | "sourceIp">,
  input: AuditInput,
) {
  return publishAudit(d.js, buildAuditEvent(input, ctx));
}

/**
 * Publish a domain event (after the commit and the audit event): events are notifications,
 * so a failed publish is logged, never turned into a failed mutation.
 */
export async function event(
  d: Deps,
  ctx: Pick<HandlerContext, "principal" | "requestId">,
  input: EventInput,
): Promise<void> {
  try {
    await publishEvent(d.js, input, { principal: ctx.principal, requestId: ctx.requestId });
  } catch (err) {
    d.log.warn({ err, type: input.type }, "could not publish event");
  }
}

/** Tell every gateway to drop cached verifications (a key, or everything of a user). */
export function invalidate(d: Deps, filter: { key_id?: string; user_id?: string }): void {
  d.nc.publish(Subjects.bcast.authInvalidate, JSON.stringify(filter));
}

/** Publish a user's token version so gateways refuse older access tokens at once. */
export async function publishTokenVersion(d: Deps, userId: string, version: number): Promise<void> {
  await d.kv.put(`tv.${userId}`, String(version));
}

export function requirePrincipal(ctx: HandlerContext): Principal {
  if (!ctx.principal) throw Errors.Unauthenticated.create();
  return ctx.principal;
}

/** Run `fn` in a transaction on one pooled client. */
export async function tx<T>(db: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await db.connect();
  try {
    await c.query("BEGIN");
    const out = await fn(c);
    await c.query("COMMIT");
    return out;
  } catch (err) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

export const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === "23505";
