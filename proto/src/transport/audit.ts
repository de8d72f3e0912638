/**
 * Publishing audit events. `publishAudit` resolves only once JetStream has stored the
 * event (file storage), so a handler that awaits it before replying never loses one,
 * even while the auth service (the audit table's single writer) is down.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { Errors } from "../errors.ts";
import { newId } from "../ids.ts";
import type { AuditEvent, AuditResult } from "../schemas/audit.ts";
import type { Principal } from "../schemas/common.ts";
import { Subjects } from "../subjects.ts";
import type { HandlerContext } from "./serve.ts";

const SECRET_KEYS = /pass(word)?|secret|token|private|key$|api_key|psk|credential/i;

/** Drop anything that looks like a secret from a summary, recursively. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return "[truncated]";
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redact(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = SECRET_KEYS.test(k) ? "[redacted]" : redact(v, depth + 1);
    return out;
  }
  if (typeof value === "string" && value.length > 512) return `${value.slice(0, 512)}…`;
  return value;
}

export interface AuditInput {
  action: string;
  category: string;
  result: AuditResult;
  target_type?: string | null;
  target_id?: string | null;
  summary?: Record<string, unknown>;
  /** Overrides the actor taken from the principal (e.g. a user being created by setup). */
  actor?: Pick<AuditEvent, "actor_type" | "actor_id" | "actor_name">;
}

function actorOf(p: Principal | undefined): Pick<AuditEvent, "actor_type" | "actor_id" | "actor_name"> {
  if (!p) return { actor_type: "anonymous", actor_id: null, actor_name: null };
  if (p.kind === "api_key")
    return { actor_type: "api_key", actor_id: p.key_id ?? p.user_id, actor_name: p.username };
  if (p.kind === "system") return { actor_type: "system", actor_id: p.user_id, actor_name: p.username };
  return { actor_type: "user", actor_id: p.user_id, actor_name: p.username };
}

export function buildAuditEvent(
  input: AuditInput,
  ctx: Pick<HandlerContext, "principal" | "requestId" | "sourceIp">,
): AuditEvent {
  return {
    id: newId("evt"),
    time: new Date().toISOString(),
    ...(input.actor ?? actorOf(ctx.principal)),
    action: input.action,
    category: input.category,
    target_type: input.target_type ?? null,
    target_id: input.target_id ?? null,
    result: input.result,
    request_id: ctx.requestId ?? null,
    source_ip: ctx.sourceIp ?? null,
    summary: redact(input.summary ?? {}) as Record<string, unknown>,
  };
}

/**
 * Store an audit event durably in the AUDIT stream (de-duplicated by event id).
 *
 * A replicated stream is briefly unwritable while it elects a new leader (a NATS node
 * died: ~5 s measured in test/faults). Retrying is safe — the stream drops a second copy
 * with the same msgID — so we ride that out for `budgetMs`, and only then fail with a
 * retryable 503: a mutation must never reply before its audit event is stored.
 */
export async function publishAudit(js: JetStreamClient, event: AuditEvent, budgetMs = 8_000): Promise<void> {
  const subject = Subjects.audit(event.category, event.action.replaceAll(".", "-"));
  const payload = JSON.stringify(event);
  const deadline = Date.now() + budgetMs;
  let delay = 100;
  for (;;) {
    try {
      await js.publish(subject, payload, { msgID: event.id, timeout: 2_000 });
      return;
    } catch (err) {
      if (Date.now() + delay >= deadline) {
        throw Errors.ServiceUnavailable.withMessage(
          "the audit stream is not accepting events; nothing was acknowledged",
          {
            cause: err instanceof Error ? err.message : String(err),
          },
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1_000);
    }
  }
}
