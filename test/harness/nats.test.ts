import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { startNats } from "./nats.ts";
import { waitFor } from "./wait.ts";

describe("harness/nats", () => {
  it("harness/nats - two servers at once get distinct ephemeral ports and working JetStream", async () => {
    const [a, b] = await Promise.all([startNats({ jetstream: true }), startNats({ jetstream: true })]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.port).not.toBe(4222);
      expect(a.url).toBe(`nats://127.0.0.1:${a.port}`);
      for (const [i, server] of [a, b].entries()) {
        const nc = await connect({ servers: server.url });
        try {
          const jsm = await jetstreamManager(nc);
          await jsm.streams.add({ name: "HARNESS", subjects: ["harness.>"] });
          const ack = await jetstream(nc).publish("harness.ping", `hello ${i}`);
          const msg = await jsm.streams.getMessage("HARNESS", { seq: ack.seq });
          expect(msg?.string()).toBe(`hello ${i}`);
        } finally {
          await nc.close();
        }
      }
      expect(await readdir(a.storeDir)).toContain("jetstream");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(existsSync(a.storeDir)).toBe(false);
    expect(existsSync(b.storeDir)).toBe(false);
  });

  it("harness/nats - store dir is removed on dispose", async () => {
    let storeDir = "";
    {
      await using nats = await startNats({ jetstream: true });
      storeDir = nats.storeDir;
      expect(existsSync(storeDir)).toBe(true);
    }
    expect(existsSync(storeDir)).toBe(false);
  });

  it("harness/nats - restart keeps the port and the JetStream data", async () => {
    await using nats = await startNats({ jetstream: true });
    const before = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(before);
    await jsm.streams.add({ name: "DURABLE", subjects: ["durable.>"] });
    await jetstream(before).publish("durable.x", "kept");
    await before.close();
    const port = nats.port;
    await nats.restart();
    expect(nats.port).toBe(port);
    const after = await connect({ servers: nats.url });
    try {
      const msg = await (await jetstreamManager(after)).streams.getMessage("DURABLE", { seq: 1 });
      expect(msg?.string()).toBe("kept");
    } finally {
      await after.close();
    }
  });

  it("harness/nats - kill() crashes the server and restart() brings it back", async () => {
    await using nats = await startNats();
    nats.kill();
    await waitFor(() =>
      connect({ servers: nats.url, reconnect: false, timeout: 500 }).then(
        (nc) => nc.close().then(() => false),
        () => true,
      ),
    );
    await nats.restart();
    const nc = await connect({ servers: nats.url });
    await nc.flush();
    await nc.close();
  });
});
