-- Stats history: HAProxy traffic per cluster and frontend/backend (plus the cluster total),
-- downsampled to 10 s (kept 24 h) and 1 min (kept 30 days). Values are per bucket: counts
-- (requests, sessions, bytes, responses by class, errors), time-weighted average current
-- sessions/queue, and response/total time × weight with the weight, so any re-bucketing
-- stays exact. One row per (cluster, kind, proxy, ts): a second writer cannot duplicate.
CREATE TABLE stats_haproxy_10s (
  cluster text NOT NULL,
  kind smallint NOT NULL,         -- 0 frontend, 1 backend, 9 cluster total (frontends)
  proxy text NOT NULL,            -- '' for the total
  ts timestamptz NOT NULL,        -- bucket start
  sess real NOT NULL,
  req real NOT NULL,
  bytes_in real NOT NULL,
  bytes_out real NOT NULL,
  h1xx real NOT NULL,
  h2xx real NOT NULL,
  h3xx real NOT NULL,
  h4xx real NOT NULL,
  h5xx real NOT NULL,
  hother real NOT NULL,
  errors real NOT NULL,
  scur real NOT NULL,
  qcur real NOT NULL,
  rtime_w real NOT NULL,
  ttime_w real NOT NULL,
  weight real NOT NULL,
  written_by text NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cluster, kind, proxy, ts)
);
CREATE INDEX stats_haproxy_10s_ts ON stats_haproxy_10s (ts);

CREATE TABLE stats_haproxy_1m (LIKE stats_haproxy_10s INCLUDING DEFAULTS);
ALTER TABLE stats_haproxy_1m ADD PRIMARY KEY (cluster, kind, proxy, ts);
CREATE INDEX stats_haproxy_1m_ts ON stats_haproxy_1m (ts);
