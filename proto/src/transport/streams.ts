/** Idempotent creation of the mesh's JetStream streams. */
import { type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Streams } from "../subjects.ts";

const DAY_NS = 24 * 60 * 60 * 1_000_000_000;

/** Create AUDIT and EVENTS if missing. Safe to call from every instance at once. */
export async function ensureStreams(jsm: JetStreamManager, replicas = 1): Promise<void> {
  const want = [
    {
      name: Streams.AUDIT.name,
      subjects: [...Streams.AUDIT.subjects],
      description: Streams.AUDIT.description,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      // Audit events are kept until appended; the table is the record. Keep 30 days as a buffer.
      max_age: 30 * DAY_NS,
      duplicate_window: 2 * 60 * 1_000_000_000,
      num_replicas: replicas,
    },
    {
      name: Streams.EVENTS.name,
      subjects: [...Streams.EVENTS.subjects],
      description: Streams.EVENTS.description,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: 7 * DAY_NS,
      max_bytes: 1024 * 1024 * 1024,
      num_replicas: replicas,
    },
  ];
  for (const cfg of want) {
    try {
      await jsm.streams.info(cfg.name);
    } catch {
      try {
        await jsm.streams.add(cfg);
      } catch (err) {
        // Another instance created it between our info and add: fine.
        await jsm.streams.info(cfg.name).catch(() => {
          throw err;
        });
      }
    }
  }
}
