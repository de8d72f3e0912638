/** gateway - the lazy per-request logger logs like a child and costs nothing until used. */
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { lazyChildLogger } from "./lazy-logger.ts";

function capture(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

describe("gateway - lazy child logger", () => {
  it("logs with the request bindings at enabled levels only", async () => {
    const { logger, lines } = capture("info");
    const child = lazyChildLogger.call({} as never, logger as never, { req: "req_1" }, {}, {} as never);
    child.debug("hidden");
    child.info({ a: 1 }, "shown");
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ req: "req_1", a: 1, msg: "shown" });
    expect(child.level).toBe("info");
  });
});
