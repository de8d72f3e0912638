-- WireGuard history: per interface and peer, bytes received/sent in each bucket (summed over
-- the nodes reporting the peer) and the smallest "seconds since the latest handshake" seen in
-- it, at 10 s (kept EP_STATS_RETENTION_10S_H) and 1 min (kept EP_STATS_RETENTION_1M_D). Without
-- it the history lived only in the stats instances' memory (1 h) and a restart lost it.
-- rx/tx are float8 so minute sums of byte counts stay exact; handshake_age is NULL when no
-- handshake was seen in the bucket (min() over a rollup then ignores it, as it should).
-- One row per (interface, ts, public_key): a second writer (overlap after a lease takeover)
-- cannot duplicate. The key is time-major within an interface because every read is "all
-- peers of one interface over a time range" (and "newest bucket of an interface" after a
-- takeover): one contiguous index range, not a scan of every peer's whole retention. It
-- carries the values (INCLUDE), so that read is an index-only scan once vacuumed (the writer
-- vacuums these tables like the HAProxy ones).
CREATE TABLE stats_wg_10s (
  interface text NOT NULL,
  public_key text NOT NULL,
  ts timestamptz NOT NULL,       -- bucket start
  rx float8 NOT NULL,            -- bytes received in the bucket
  tx float8 NOT NULL,            -- bytes sent in the bucket
  handshake_age integer,         -- seconds since the handshake, at best; NULL = none seen
  peer_id text,                  -- the peer's id when the key belongs to a known peer
  written_by text NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (interface, ts, public_key) INCLUDE (rx, tx, handshake_age, peer_id)
);
-- Retention deletes by time across every interface.
CREATE INDEX stats_wg_10s_ts ON stats_wg_10s (ts);

CREATE TABLE stats_wg_1m (LIKE stats_wg_10s INCLUDING DEFAULTS);
ALTER TABLE stats_wg_1m ADD PRIMARY KEY (interface, ts, public_key) INCLUDE (rx, tx, handshake_age, peer_id);
CREATE INDEX stats_wg_1m_ts ON stats_wg_1m (ts);

ALTER TABLE stats_wg_10s SET (autovacuum_vacuum_insert_scale_factor = 0.01);
ALTER TABLE stats_wg_1m SET (autovacuum_vacuum_insert_scale_factor = 0.01);
