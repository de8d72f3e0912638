-- History queries read one series (cluster, kind, proxy) over a time range, but rows arrive
-- time-major (every series of a bucket at once), so each row of a series sits on its own heap
-- page: a 24 h query at 10 s touched ~8,700 pages. The primary key now carries the values
-- (INCLUDE), so the query is an index-only scan over ~130 contiguous leaf pages. Heap pages
-- must be all-visible for that: the history writer vacuums these tables itself (autovacuum
-- may be off), and autovacuum, when on, runs after 1% new rows instead of 20%.
ALTER TABLE stats_haproxy_10s
  DROP CONSTRAINT stats_haproxy_10s_pkey,
  ADD PRIMARY KEY (cluster, kind, proxy, ts)
    INCLUDE (sess, req, bytes_in, bytes_out, h1xx, h2xx, h3xx, h4xx, h5xx, hother, errors,
             scur, qcur, rtime_w, ttime_w, weight);
ALTER TABLE stats_haproxy_1m
  DROP CONSTRAINT stats_haproxy_1m_pkey,
  ADD PRIMARY KEY (cluster, kind, proxy, ts)
    INCLUDE (sess, req, bytes_in, bytes_out, h1xx, h2xx, h3xx, h4xx, h5xx, hother, errors,
             scur, qcur, rtime_w, ttime_w, weight);
ALTER TABLE stats_haproxy_10s SET (autovacuum_vacuum_insert_scale_factor = 0.01);
ALTER TABLE stats_haproxy_1m SET (autovacuum_vacuum_insert_scale_factor = 0.01);
