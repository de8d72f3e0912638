/**
 * The generated AsyncAPI 3 document is structurally valid: Redocly's CLI (already a
 * dependency, it lints AsyncAPI 3 against the spec's structure) reports no errors, and the
 * invariants its struct rule does not cover are checked by hand: operation, message and
 * reply refs resolve (messages within their channel), and every `{param}` in a channel
 * address is declared. `@asyncapi/parser` is not used: it pulls in Spectral and a dozen
 * more packages.
 */
import { type RouteSpec, routes, Subjects } from "@edgeplane/proto";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { buildAsyncApi } from "./asyncapi.ts";
import { collectRefs, resolvePointer } from "./local-refs.ts";
import { redoclyErrors, redoclyLint } from "./redocly-lint.ts";

interface Channel {
  address: string | null;
  parameters?: Record<string, { description?: string }>;
  messages?: Record<string, { name?: string; payload?: unknown }>;
}
interface Operation {
  action: string;
  channel: { $ref: string };
  messages?: Array<{ $ref: string }>;
  reply?: { channel?: { $ref: string }; messages?: Array<{ $ref: string }> };
}
interface Doc {
  asyncapi: string;
  info: { title: string; version: string };
  channels: Record<string, Channel>;
  operations: Record<string, Operation>;
  components?: { schemas?: Record<string, unknown> };
}

/** The structural invariants of {@link Doc}, as a list of violations. */
function invariantViolations(doc: Doc): string[] {
  const bad: string[] = [];
  const channelOf = (ref: string | undefined, where: string): string | undefined => {
    const m = /^#\/channels\/([^/]+)$/.exec(ref ?? "");
    if (!m?.[1] || !(m[1] in doc.channels)) bad.push(`${where}: channel ref ${ref} does not resolve`);
    return m?.[1];
  };
  const messagesIn = (
    channel: string | undefined,
    refs: Array<{ $ref: string }> | undefined,
    where: string,
  ) => {
    for (const { $ref } of refs ?? []) {
      const m = /^#\/channels\/([^/]+)\/messages\/([^/]+)$/.exec($ref);
      if (!m || m[1] !== channel)
        bad.push(`${where}: message ${$ref} is not a message of channel ${channel}`);
      else if (!resolvePointer(doc, $ref)) bad.push(`${where}: message ref ${$ref} does not resolve`);
    }
  };
  for (const [id, op] of Object.entries(doc.operations)) {
    if (op.action !== "send" && op.action !== "receive") bad.push(`operation ${id}: action ${op.action}`);
    const channel = channelOf(op.channel?.$ref, `operation ${id}`);
    messagesIn(channel, op.messages, `operation ${id}`);
    if (op.reply) {
      const replyChannel = op.reply.channel
        ? channelOf(op.reply.channel.$ref, `operation ${id} reply`)
        : channel;
      messagesIn(replyChannel, op.reply.messages, `operation ${id} reply`);
    }
  }
  for (const [id, ch] of Object.entries(doc.channels)) {
    const inAddress = [...(ch.address ?? "").matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
    const declared = Object.keys(ch.parameters ?? {});
    for (const p of inAddress)
      if (!declared.includes(p)) bad.push(`channel ${id}: {${p}} not declared in parameters`);
    for (const p of declared)
      if (!inAddress.includes(p)) bad.push(`channel ${id}: parameter ${p} not in its address`);
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) bad.push(`channel ${id}: id is not a valid component key`);
  }
  for (const ref of collectRefs(doc))
    if (resolvePointer(doc, ref) === undefined) bad.push(`$ref ${ref} does not resolve`);
  return bad;
}

const doc = buildAsyncApi({ version: "0.1.0", routes }) as unknown as Doc;

describe("asyncapi - redocly recommended ruleset", () => {
  test("asyncapi - the generated document lints with zero errors", async () => {
    expect(await redoclyErrors(doc, "asyncapi.json")).toEqual([]);
  });

  test("asyncapi - the linter does report a structurally broken document (the check is live)", async () => {
    const broken = structuredClone(doc);
    const first = Object.values(broken.operations)[0] as Operation;
    (first as { action: string }).action = "publish"; // AsyncAPI 2 wording, invalid in 3
    const problems = await redoclyLint(broken, "asyncapi.json");
    expect(problems.filter((p) => p.severity === "error").map((p) => p.ruleId)).toContain("struct");
  });
});

describe("asyncapi - invariants", () => {
  test("asyncapi - document header is AsyncAPI 3 with the given version", () => {
    expect(doc.asyncapi).toBe("3.0.0");
    expect(doc.info.version).toBe("0.1.0");
  });

  test("asyncapi - every operation's channel, message and reply refs resolve; every {param} is declared", () => {
    expect(invariantViolations(doc)).toEqual([]);
  });

  test("asyncapi - the invariant check catches a dangling ref and an undeclared parameter", () => {
    const broken = structuredClone(doc);
    const [opId, op] = Object.entries(broken.operations)[0] as [string, Operation];
    op.channel = { $ref: "#/channels/nope" };
    const audit = broken.channels.audit as Channel;
    delete audit.parameters?.action;
    const violations = invariantViolations(broken);
    expect(violations).toContain(`operation ${opId}: channel ref #/channels/nope does not resolve`);
    expect(violations).toContain("channel audit: {action} not declared in parameters");
  });

  test("asyncapi - every route with a subject has a channel at that address with a receive operation", () => {
    const withSubject = routes.filter((r): r is RouteSpec & { subject: string } => Boolean(r.subject));
    expect(withSubject.length).toBeGreaterThan(0);
    for (const route of withSubject) {
      const entry = Object.entries(doc.channels).find(([, ch]) => ch.address === route.subject);
      expect(entry, route.subject).toBeDefined();
      const ops = Object.values(doc.operations).filter(
        (op) => op.channel.$ref === `#/channels/${entry?.[0]}`,
      );
      expect(
        ops.some((op) => op.action === "receive" && op.reply),
        route.id,
      ).toBe(true);
    }
    expect(Object.values(doc.channels).map((c) => c.address)).toContain(Subjects.bcast.authInvalidate);
  });

  test("asyncapi - named zod schemas (.meta id) land in components.schemas with rewritten refs", () => {
    const Named = z.object({ n: z.number().describe("A number.") }).meta({ id: "AsyncApiTestNamed" });
    const route: RouteSpec = {
      id: "test.named",
      method: "GET",
      path: "/api/v1/test/{name}",
      summary: "Named schema test",
      tags: ["test"],
      auth: "public",
      subject: "ep.v1.test.{name}.get",
      params: z.object({ name: z.string().describe("A name.") }),
      reply: z.object({ items: z.array(Named) }),
    };
    const d = buildAsyncApi({ version: "0", routes: [route] }) as unknown as Doc;
    expect(d.components?.schemas).toHaveProperty("AsyncApiTestNamed");
    const refs = collectRefs(d);
    expect(refs).toContain("#/components/schemas/AsyncApiTestNamed");
    expect(refs.filter((r) => r.includes("$defs"))).toEqual([]);
    expect(invariantViolations(d)).toEqual([]);
    expect(() =>
      buildAsyncApi({ version: "0", routes: [route, { ...route, id: "test_named", path: "/api/v1/other" }] }),
    ).toThrow(/channel id test_named/);
  });
});
