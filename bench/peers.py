#!/usr/bin/env python3
"""Peer side of Touchpoint's analytics benchmark.

Loads a journey CSV (customer_id, ts, seq, touchpoint, channel) into chdb (the ClickHouse
engine), DuckDB and, for Markov attribution, the ChannelAttribution package; runs each query
of a QUERIES.json file on every engine that supports it; prints one JSON object per line on
stdout. Everything else (library banners, progress) goes to stderr.

    python3 bench/peers.py --data FILE.csv --queries QUERIES.json [--threads 2] [--runs 3]
                           [--engines chdb,duckdb,channelattribution]
    python3 bench/peers.py --selftest
    python3 bench/peers.py --generate ROWS --out FILE.csv [--customers N] [--sorted] [--seed S]

See bench/README.md for the query kinds and the exact result shapes.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback

WEEK = 604800
# 1970-01-05 00:00:00 UTC is the first Monday after the epoch.
MONDAY0 = 4 * 86400
# Both engines' integer division truncates toward zero; adding this many weeks first keeps
# the dividend positive, so week = floor((ts - MONDAY0) / WEEK) for every ts >= -6e11.
WEEK_BIAS = 1_000_000
ENGINES = ("chdb", "duckdb", "channelattribution")

_OUT = None  # the real stdout; fd 1 itself is pointed at stderr


def _grab_stdout():
    """Keep the real stdout for our own lines and send everything else written to fd 1
    (ChannelAttribution's banner, C/C++ prints) to stderr."""
    global _OUT
    if _OUT is None:
        sys.stdout.flush()
        _OUT = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr


def emit(obj):
    _OUT.write(json.dumps(obj, separators=(",", ":")) + "\n")
    _OUT.flush()


def say(text):
    _OUT.write(text + "\n")
    _OUT.flush()


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def timed(fn, runs):
    """One warm-up call, then `runs` timed calls: (median seconds, timings, last result)."""
    result = fn()
    times = []
    for _ in range(max(1, runs)):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, result


def ch_str(s):
    """A ClickHouse string literal."""
    return "'" + str(s).replace("\\", "\\\\").replace("'", "\\'") + "'"


def dd_str(s):
    """A DuckDB (standard SQL) string literal."""
    return "'" + str(s).replace("'", "''") + "'"


# ----------------------------------------------------------------------- result shapes

def funnel_shape(level_counts, k):
    """{max level: customers} -> {"steps": [customers with level >= 1, ..., >= k]}."""
    return {"steps": [int(sum(c for lv, c in level_counts.items() if lv >= i)) for i in range(1, k + 1)]}


def transitions_shape(rows, top):
    rows = [[str(a), str(b), int(c)] for a, b, c in rows]
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return {"transitions": rows[:top]}


def retention_shape(rows, periods):
    """rows of (cohort week number, weeks after the cohort week, customers)."""
    cohorts = {}
    for w0, off, c in rows:
        w0, off, c = int(w0), int(off), int(c)
        e = cohorts.setdefault(w0, [0, [0] * periods])
        if off == 0:
            e[0] = c
        elif 1 <= off <= periods:
            e[1][off - 1] = c
    return {"cohorts": [[w0 * WEEK + MONDAY0, v[0], v[1]] for w0, v in sorted(cohorts.items())]}


def journey_shape(rows):
    return {"touchpoints": {str(tp): [int(r), int(c), int(x)] for tp, r, c, x in sorted(rows, key=lambda r: str(r[0]))}}


# ------------------------------------------------------------------------------- chdb

class Chdb:
    name = "chdb"

    def __init__(self, threads, tmp):
        import chdb.session
        self.threads = int(threads)
        self.dir = os.path.join(tmp, "chdb")
        self.sess = chdb.session.Session(self.dir)
        self.q(f"SET max_threads = {self.threads}")

    def q(self, sql):
        r = self.sess.query(sql, "JSONCompact")
        if hasattr(r, "has_error") and r.has_error():
            raise RuntimeError(r.error_message())
        text = r.bytes() if hasattr(r, "bytes") else str(r).encode()
        return json.loads(text)["data"] if text.strip() else []

    def sel(self, sql):
        return self.q(f"{sql} SETTINGS max_threads = {self.threads}, output_format_json_quote_64bit_integers = 0")

    def load(self, csv):
        self.q("DROP TABLE IF EXISTS ev")
        self.q(
            "CREATE TABLE ev (customer_id Int64, ts Int64, seq Int64, "
            "touchpoint LowCardinality(String), channel LowCardinality(String)) "
            "ENGINE = MergeTree ORDER BY (customer_id, ts, seq)"
        )
        self.q(
            f"INSERT INTO ev SELECT * FROM file({ch_str(os.path.abspath(csv))}, 'CSVWithNames', "
            "'customer_id Int64, ts Int64, seq Int64, touchpoint String, channel String') "
            f"SETTINGS max_threads = {self.threads}, max_insert_threads = {self.threads}"
        )
        self.q("OPTIMIZE TABLE ev FINAL")
        return int(self.sel("SELECT count() FROM ev")[0][0])

    def funnel(self, q):
        # windowFunnel sorts each customer's matching events by (timestamp, step index), so
        # events with equal ts count in step order whatever their seq: exactly PRODUCT.md's
        # "non-decreasing timestamps". ts must be unsigned for windowFunnel.
        steps, w = q["steps"], int(q["window_s"])
        conds = ", ".join(f"touchpoint = {ch_str(s)}" for s in steps)
        inlist = ", ".join(ch_str(s) for s in sorted(set(steps)))
        rows = self.sel(
            f"SELECT level, count() FROM (SELECT windowFunnel({w})(toUInt64(ts), {conds}) AS level "
            f"FROM ev WHERE touchpoint IN ({inlist}) GROUP BY customer_id) GROUP BY level"
        )
        return funnel_shape({int(a): int(b) for a, b in rows}, len(steps))

    def transitions(self, q):
        top = int(q.get("top", 20))
        rows = self.sel(
            "SELECT a, b, count() AS c FROM (SELECT touchpoint AS a, leadInFrame(toNullable(touchpoint)) "
            "OVER (PARTITION BY customer_id ORDER BY ts, seq ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS b "
            f"FROM ev) WHERE b IS NOT NULL GROUP BY a, b ORDER BY c DESC, a, b LIMIT {top}"
        )
        return transitions_shape(rows, top)

    def retention(self, q):
        p = int(q.get("periods", 8))
        wk = f"(intDiv(ts - {MONDAY0} + {WEEK * WEEK_BIAS}, {WEEK}) - {WEEK_BIAS})"
        rows = self.sel(
            f"SELECT w0, off, count() FROM (SELECT min({wk}) AS w0, groupUniqArray({wk}) AS ws "
            "FROM ev GROUP BY customer_id) "
            f"ARRAY JOIN arrayMap(x -> x - w0, ws) AS off WHERE off <= {p} GROUP BY w0, off"
        )
        return retention_shape(rows, p)

    def journey_map(self, q):
        goal = ch_str(q["goal"])
        churn = q.get("churn_touchpoints") or []
        cutoff = int(q["now_s"]) - int(q["churn_horizon_s"])
        ci = (f"arrayFirstIndex(x -> x IN ({', '.join(ch_str(s) for s in churn)}), t)" if churn else "0")
        # t = the customer's touchpoints in (ts, seq) order; ci = 1-based index of the first
        # churn touchpoint (0 when none): the exit is t[ci - 1] (none when ci = 1), or, for a
        # customer without churn touchpoints who went silent, the last touchpoint.
        rows = self.sel(
            "SELECT tp, count() AS reach, sum(conv) AS converting, countIf(exit_tp = tp) AS exits FROM ("
            " SELECT arrayMap(x -> x.3, arraySort(groupArray((ts, seq, touchpoint)))) AS t,"
            f" has(t, {goal}) AS conv, {ci} AS ci, max(ts) AS last_ts,"
            f" multiIf(ci > 1, toNullable(t[ci - 1]), ci = 1, NULL, last_ts < {cutoff}, toNullable(t[-1]), NULL)"
            " AS exit_tp FROM ev GROUP BY customer_id)"
            " ARRAY JOIN arrayDistinct(t) AS tp GROUP BY tp"
        )
        return journey_shape(rows)

    def close(self):
        try:
            self.sess.close()
        except Exception:
            pass


# ----------------------------------------------------------------------------- DuckDB

class Duck:
    name = "duckdb"

    def __init__(self, threads, tmp):
        import duckdb
        self.con = duckdb.connect()
        self.con.execute(f"SET threads TO {int(threads)}")
        self.con.execute("SET enable_progress_bar = false")
        d = os.path.join(tmp, "duckdb-tmp")
        os.makedirs(d, exist_ok=True)
        self.con.execute(f"SET temp_directory = {dd_str(d)}")

    def sel(self, sql):
        return self.con.execute(sql).fetchall()

    def load(self, csv):
        # touchpoint and channel become ENUMs, DuckDB's counterpart of ClickHouse's
        # LowCardinality(String) (2-4x faster windows and groupings than VARCHAR here).
        for stmt in ("DROP TABLE IF EXISTS ev", "DROP TYPE IF EXISTS tp_t", "DROP TYPE IF EXISTS ch_t"):
            self.con.execute(stmt)
        self.con.execute(
            f"CREATE TEMP TABLE raw AS SELECT * FROM read_csv({dd_str(os.path.abspath(csv))}, header = true, "
            "columns = {'customer_id': 'BIGINT', 'ts': 'BIGINT', 'seq': 'BIGINT', "
            "'touchpoint': 'VARCHAR', 'channel': 'VARCHAR'})"
        )
        self.con.execute("CREATE TYPE tp_t AS ENUM (SELECT DISTINCT touchpoint FROM raw WHERE touchpoint IS NOT NULL ORDER BY 1)")
        self.con.execute("CREATE TYPE ch_t AS ENUM (SELECT DISTINCT channel FROM raw WHERE channel IS NOT NULL ORDER BY 1)")
        self.con.execute("CREATE TABLE ev AS SELECT customer_id, ts, seq, touchpoint::tp_t AS touchpoint, "
                         "channel::ch_t AS channel FROM raw ORDER BY customer_id, ts, seq")
        self.con.execute("DROP TABLE raw")
        return int(self.sel("SELECT count(*) FROM ev")[0][0])

    @staticmethod
    def funnel_sql(steps, w):
        """Exact windowFunnel (default mode) in SQL.

        Items are (customer, ts, step) for every event and every step it matches (an event
        matching two steps is two items, as in ClickHouse), ordered by (ts, step). r_1 = ts of
        each step-1 item; for a step-i item y, r_i(y) = m, the largest r_{i-1} among the
        preceding items (= the latest start of a level-(i-1) chain completed by then), when
        y.ts <= m + window. The latest start is always the best one, so a customer reaches
        level i iff some r_i exists. Level i's window only sees the step-(i-1) items that
        reached level i-1 and the step-i items.
        """
        vals = ", ".join(f"({i + 1}, {dd_str(s)})" for i, s in enumerate(steps))
        sql = (f"WITH st(step, tp) AS (VALUES {vals}), "
               "it AS MATERIALIZED (SELECT e.customer_id AS c, e.ts, st.step FROM ev e "
               "JOIN st ON e.touchpoint = TRY_CAST(st.tp AS tp_t)), "
               "r1 AS (SELECT c, ts, ts AS r FROM it WHERE step = 1)")
        for i in range(2, len(steps) + 1):
            sql += (f", r{i} AS (SELECT c, ts, m AS r FROM (SELECT c, ts, s, max(r) OVER (PARTITION BY c ORDER BY ts, s "
                    f"ROWS UNBOUNDED PRECEDING) AS m FROM (SELECT c, ts, 0 AS s, r FROM r{i - 1} "
                    f"UNION ALL SELECT c, ts, 1 AS s, NULL AS r FROM it WHERE step = {i})) "
                    f"WHERE s = 1 AND ts <= m + {int(w)})")
        sql += " " + " UNION ALL ".join(f"SELECT {i} AS lv, count(DISTINCT c) AS n FROM r{i}"
                                        for i in range(1, len(steps) + 1))
        return sql

    def funnel(self, q):
        steps = q["steps"]
        rows = self.sel(self.funnel_sql(steps, q["window_s"]))
        ge = {int(lv): int(n) for lv, n in rows}
        return {"steps": [ge.get(i, 0) for i in range(1, len(steps) + 1)]}

    def transitions(self, q):
        top = int(q.get("top", 20))
        rows = self.sel(
            "SELECT a, b, count(*) AS c FROM (SELECT touchpoint AS a, "
            "LEAD(touchpoint) OVER (PARTITION BY customer_id ORDER BY ts, seq) AS b FROM ev) "
            f"WHERE b IS NOT NULL GROUP BY a, b ORDER BY c DESC, a::VARCHAR, b::VARCHAR LIMIT {top}"
        )
        return transitions_shape(rows, top)

    def retention(self, q):
        p = int(q.get("periods", 8))
        wk = f"((ts - {MONDAY0} + {WEEK * WEEK_BIAS}) // {WEEK} - {WEEK_BIAS})"
        rows = self.sel(
            f"WITH pw AS (SELECT DISTINCT customer_id, {wk} AS wk FROM ev), "
            "f AS (SELECT customer_id, min(wk) AS w0 FROM pw GROUP BY customer_id) "
            f"SELECT w0, wk - w0 AS off, count(*) FROM pw JOIN f USING (customer_id) WHERE wk - w0 <= {p} GROUP BY ALL"
        )
        return retention_shape(rows, p)

    def journey_map(self, q):
        goal = dd_str(q["goal"])
        churn = q.get("churn_touchpoints") or []
        is_churn = f"touchpoint IN ({', '.join(dd_str(s) for s in churn)})" if churn else "false"
        cutoff = int(q["now_s"]) - int(q["churn_horizon_s"])
        rows = self.sel(f"""
WITH pc AS (SELECT customer_id, max(ts) AS last_ts, arg_max(touchpoint, {{'t': ts, 's': seq}}) AS last_tp,
                   bool_or(touchpoint = {goal}) AS conv, bool_or({is_churn}) AS churned FROM ev GROUP BY 1),
 pr AS (SELECT customer_id, touchpoint FROM ev GROUP BY ALL),
 fc AS (SELECT customer_id, min({{'t': ts, 's': seq}}) AS k FROM ev WHERE {is_churn} GROUP BY 1),
 ce AS (SELECT ev.customer_id, max({{'t': ts, 's': seq, 'tp': touchpoint}}).tp AS e FROM ev JOIN fc
        ON ev.customer_id = fc.customer_id AND (ts < fc.k.t OR (ts = fc.k.t AND seq < fc.k.s)) GROUP BY 1),
 ex AS (SELECT e AS tp, count(*) AS n FROM ce GROUP BY 1
        UNION ALL SELECT last_tp, count(*) FROM pc WHERE NOT churned AND last_ts < {cutoff} GROUP BY 1),
 rc AS (SELECT pr.touchpoint AS tp, count(*) AS reach, count(*) FILTER (WHERE pc.conv) AS conv
        FROM pr JOIN pc USING (customer_id) GROUP BY 1)
SELECT rc.tp, reach, conv, coalesce(sum(n), 0)::BIGINT FROM rc LEFT JOIN ex USING (tp) GROUP BY ALL""")
        return journey_shape(rows)

    def markov_paths(self, q):
        """One path per customer (PRODUCT.md): the `by` values of the events before the first
        goal event, in (ts, seq) order; customers who never convert keep all of theirs and
        end in null. Aggregated as ChannelAttribution expects: path, conversions, nulls."""
        by = q.get("by", "channel")
        if by not in ("channel", "touchpoint"):
            raise ValueError(f"markov 'by' must be channel or touchpoint, not {by!r}")
        goal = dd_str(q["goal"])
        return self.con.execute(f"""
WITH fg AS (SELECT customer_id, min({{'t': ts, 's': seq}}) AS k FROM ev WHERE touchpoint = {goal} GROUP BY 1)
SELECT path, sum(conv)::BIGINT AS total_conversions, sum(1 - conv)::BIGINT AS total_null FROM (
  SELECT ev.customer_id,
         coalesce(string_agg({by}, ' > ' ORDER BY ts, seq) FILTER (WHERE fg.k IS NULL OR ts < fg.k.t
                  OR (ts = fg.k.t AND seq < fg.k.s)), '') AS path,
         (max(fg.k.t) IS NOT NULL)::INT AS conv
  FROM ev LEFT JOIN fg ON ev.customer_id = fg.customer_id GROUP BY 1)
GROUP BY path""").df()

    def close(self):
        try:
            self.con.close()
        except Exception:
            pass


# -------------------------------------------------------------------- Markov, exactly

def markov_exact(paths):
    """Exact first-order removal-effect credits for (path, conversions, nulls) rows, as
    PRODUCT.md defines them (absorbing-chain solve). Returns {state: credit}."""
    import numpy as np
    trans, states = {}, {}

    def sid(s):
        return states.setdefault(s, len(states))

    for path, conv, null in paths:
        seq = [s.strip() for s in path.split(">")] if path.strip() else []
        nodes = ["(start)"] + seq
        for a, b in zip(nodes, nodes[1:]):
            trans[(a, b)] = trans.get((a, b), 0) + conv + null
        for end, n in (("(conversion)", conv), ("(null)", null)):
            if n:
                trans[(nodes[-1], end)] = trans.get((nodes[-1], end), 0) + n
    chans = sorted({s for (a, b) in trans for s in (a, b)} - {"(start)", "(conversion)", "(null)"})
    for c in ["(start)"] + chans:
        sid(c)
    n = len(states)
    out = {}
    for (a, b), c in trans.items():
        out.setdefault(a, {})[b] = out.get(a, {}).get(b, 0) + c

    def p_conv(removed):
        Q = np.zeros((n, n))
        R = np.zeros(n)
        for a, row in out.items():
            ia = states[a]
            if a == removed:
                continue  # a removed state absorbs into null: it contributes nothing
            tot = sum(row.values())
            for b, c in row.items():
                if b == "(conversion)":
                    R[ia] += c / tot
                elif b == "(null)" or b == removed:
                    pass
                else:
                    Q[ia, states[b]] += c / tot
        x = np.linalg.solve(np.eye(n) - Q, R)
        return x[states["(start)"]]

    base = p_conv(None)
    total_conv = sum(conv for _, conv, _ in paths)
    eff = {c: 1 - p_conv(c) / base if base > 0 else 0.0 for c in chans}
    s = sum(eff.values())
    return {c: (total_conv * e / s if s > 0 else 0.0) for c, e in eff.items()}


# ------------------------------------------------------------------------------ runner

KINDS = {"funnel": "funnel", "transitions": "transitions", "retention": "retention", "journey_map": "journey_map"}


def run_bench(args):
    queries = json.load(open(args.queries))
    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in wanted:
        if e not in ENGINES:
            emit({"engine": e, "error": f"unknown engine (known: {', '.join(ENGINES)})"})
    tmp = tempfile.mkdtemp(prefix="peers-")
    duck = None
    duck_load = None
    try:
        for eng_name in ("chdb", "duckdb"):
            need_duck = eng_name == "duckdb" and "channelattribution" in wanted and any(
                q.get("kind") == "markov" for q in queries)
            if eng_name not in wanted and not need_duck:
                continue
            try:
                eng = (Chdb if eng_name == "chdb" else Duck)(args.threads, tmp)
                log(f"[{eng_name}] loading {args.data} …")
                t = time.perf_counter()
                rows = eng.load(args.data)
                load_s = time.perf_counter() - t
                log(f"[{eng_name}] {rows} rows loaded in {load_s:.2f} s")
            except Exception as e:
                emit({"engine": eng_name, "error": f"{type(e).__name__}: {e}"})
                continue
            if eng_name == "duckdb":
                duck, duck_load = eng, load_s
            if eng_name in wanted:
                for q in queries:
                    method = KINDS.get(q.get("kind"))
                    if q.get("kind") == "markov":
                        continue  # Markov runs in ChannelAttribution only
                    if method is None:
                        emit({"engine": eng_name, "query": q.get("name"), "error": f"unknown kind {q.get('kind')!r}"})
                        continue
                    try:
                        med, times, res = timed(lambda: getattr(eng, method)(q), args.runs)
                        emit({"engine": eng_name, "query": q["name"], "seconds": med, "load_seconds": load_s,
                              "result": res, "runs_seconds": times, "rows": rows, "threads": args.threads,
                              "loadavg_1m": loadavg()})
                        log(f"[{eng_name}] {q['name']}: {med:.3f} s (runs {', '.join(f'{x:.3f}' for x in times)})")
                    except Exception as e:
                        traceback.print_exc()
                        emit({"engine": eng_name, "query": q.get("name"), "error": f"{type(e).__name__}: {e}"})
            if eng_name == "chdb":
                eng.close()
        if "channelattribution" in wanted:
            run_markov(args, queries, duck, duck_load)
    finally:
        if duck is not None:
            duck.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run_markov(args, queries, duck, duck_load):
    mq = [q for q in queries if q.get("kind") == "markov"]
    if not mq:
        return
    try:
        from ChannelAttribution import markov_model
    except Exception as e:
        emit({"engine": "channelattribution", "error": f"{type(e).__name__}: {e}"})
        return
    if duck is None:
        emit({"engine": "channelattribution", "error": "needs DuckDB to build the paths, and DuckDB is unavailable"})
        return
    for q in mq:
        try:
            t = time.perf_counter()
            df = duck.markov_paths(q)
            prep = time.perf_counter() - t

            def call():
                return markov_model(df, "path", "total_conversions", var_null="total_null", order=1,
                                    ncore=int(args.threads), verbose=False, flg_pro=False)

            med, times, res = timed(call, args.runs)
            credits = {str(r.channel_name): float(r.total_conversions) for r in res.itertuples()}
            rows = list(df[["path", "total_conversions", "total_null"]].itertuples(index=False, name=None))
            emit({"engine": "channelattribution", "query": q["name"], "seconds": med, "load_seconds": duck_load,
                  "prep_seconds": prep, "result": {"credits": credits}, "runs_seconds": times,
                  "threads": args.threads, "loadavg_1m": loadavg(),
                  "paths": len(df), "conversions": int(df.total_conversions.sum()),
                  "nulls": int(df.total_null.sum()),
                  "exact_credits": markov_exact([(p, int(c), int(n)) for p, c, n in rows])})
            log(f"[channelattribution] {q['name']}: {med:.3f} s (prep {prep:.2f} s, {len(df)} distinct paths)")
        except Exception as e:
            traceback.print_exc()
            emit({"engine": "channelattribution", "query": q.get("name"), "error": f"{type(e).__name__}: {e}"})


# --------------------------------------------------------------------- data generator

# (key, channel, stage): 30 touchpoints, 15 channels, keys shaped like the Rust demo catalog.
CATALOG = [
    ("ad-click", "ads", 0), ("search-visit", "search", 0), ("social-visit", "social", 0),
    ("review-site-visit", "review", 0), ("forum-visit", "forum", 0), ("blog-visit", "blog", 0),
    ("home-page", "web", 0),
    ("category-page", "web", 1), ("product-page", "web", 1), ("app-installed", "app", 1),
    ("app-browse", "app", 1), ("sign-up", "web", 1),
    ("cart", "web", 2), ("checkout", "web", 2), ("payment-failed", "web", 2), ("order-completed", "web", 2),
    ("order-shipped", "email", 3), ("order-delivered", "other", 3), ("delivery-late", "other", 3),
    ("store-pickup", "store", 3), ("chat", "chat", 3), ("support-call", "phone", 3),
    ("support-call-long-wait", "phone", 3), ("return-request", "self-service", 3), ("complaint", "self-service", 3),
    ("newsletter-opened", "email", 4), ("survey-answered", "survey", 4), ("review-written", "review", 4),
    ("account-closed", "self-service", 5), ("switched-to-competitor", "other", 5),
]
GOAL = "order-completed"
CHURN = ["account-closed", "switched-to-competitor"]


def _transition_matrix(rng):
    import numpy as np
    n = len(CATALOG)
    keys = [c[0] for c in CATALOG]
    st = [c[2] for c in CATALOG]
    w = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            base = {0: 1.0, 1: 0.6, -1: 0.25}.get(st[j] - st[i], 0.08)
            if st[i] == 4 and st[j] == 0:
                base = 0.5
            if st[i] == 3 and st[j] == 1:
                base = 0.3
            w[i, j] = base * rng.gamma(2.0, 0.5)
    ix = {k: i for i, k in enumerate(keys)}
    for a, b, boost in [("product-page", "cart", 2.0), ("cart", "checkout", 4.0), ("checkout", GOAL, 4.0),
                        ("checkout", "payment-failed", 1.0), ("payment-failed", "checkout", 3.0),
                        (GOAL, "order-shipped", 5.0), ("order-shipped", "order-delivered", 4.0),
                        ("category-page", "product-page", 3.0)]:
        w[ix[a], ix[b]] += boost
    churn = [ix[c] for c in CHURN]
    w[:, churn] = 0.0
    w /= w.sum(1, keepdims=True)
    for i in range(n):
        p = 0.03 if keys[i] in ("complaint", "support-call-long-wait", "delivery-late", "payment-failed") else 0.0015
        w[i] *= 1 - 2 * p
        w[i, churn] = p
    for c in churn:
        w[c] = 0.0
        w[c, ix["newsletter-opened"]] = 0.6
        w[c, ix["ad-click"]] = 0.2
        w[c, churn] = 0.1
    w /= w.sum(1, keepdims=True)
    return w


def generate(rows, customers, seed=1, shuffle=True, days=365, tie_p=0.12, t0=1_767_225_600):
    """Synthetic journeys: a first-order chain over CATALOG per customer, heavy-tailed
    events per customer (at least one each), sessions with gaps of minutes and days, ties in
    ts (share tie_p), seq = arrival order (by ts, random among equal ts). Returns numpy
    columns (customer_id, ts, seq, touchpoint code, channel code) and the key/channel names."""
    import numpy as np
    rng = np.random.default_rng(seed)
    customers = max(1, min(customers, rows))
    keys = [c[0] for c in CATALOG]
    chans = sorted({c[1] for c in CATALOG})
    tp_chan = np.array([chans.index(c[1]) for c in CATALOG], dtype=np.int8)
    cum = np.cumsum(_transition_matrix(rng), 1)
    cum[:, -1] = 1.0
    wts = rng.lognormal(0.0, 1.0, customers)
    counts = 1 + rng.multinomial(rows - customers, wts / wts.sum())
    counts = counts[np.argsort(-counts, kind="stable")]
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    tp = np.empty(rows, dtype=np.int8)
    start_p = np.array([1.0 if c[2] == 0 else 0.15 if c[2] == 1 else 0.0 for c in CATALOG])
    cur = rng.choice(len(keys), size=customers, p=start_p / start_p.sum()).astype(np.int8)
    tp[offsets] = cur
    active = customers
    for k in range(1, int(counts[0])):
        while active > 0 and counts[active - 1] <= k:
            active -= 1
        u = rng.random(active)
        cur = (cum[cur[:active]] < u[:, None]).sum(1).astype(np.int8)
        tp[offsets[:active] + k] = cur
    cust_of = np.repeat(np.arange(customers), counts)
    start = t0 + rng.integers(0, days * 86400, customers)
    span = rng.uniform(1, 240, customers) * 86400
    r = rng.random(rows)
    sess_p = 0.28
    gap_in = rng.exponential(120.0, rows)
    gap_out = rng.exponential(1.0, rows) * (span / np.maximum(1, sess_p * counts))[cust_of]
    gap = np.floor(np.where(r < tie_p, 0.0, np.where(r < 1 - sess_p, gap_in, gap_out))).astype(np.int64)
    gap[offsets] = start
    ts = np.cumsum(gap)
    ts -= np.repeat(ts[offsets] - start, counts)
    seq = np.empty(rows, dtype=np.int64)
    seq[np.lexsort((rng.random(rows), ts))] = np.arange(1, rows + 1)
    cid = (rng.permutation(customers) * 7 + 100_003).astype(np.int64)[cust_of]
    if shuffle:
        perm = rng.permutation(rows)
        cid, ts, seq, tp = cid[perm], ts[perm], seq[perm], tp[perm]
    return cid, ts, seq, tp, tp_chan[tp], keys, chans


def default_queries(now_s):
    return [
        {"name": "funnel4", "kind": "funnel", "steps": ["product-page", "cart", "checkout", GOAL], "window_s": 604800},
        {"name": "top_transitions", "kind": "transitions", "top": 20},
        {"name": "weekly_retention", "kind": "retention", "periods": 8},
        {"name": "journey_map", "kind": "journey_map", "goal": GOAL, "now_s": int(now_s),
         "churn_horizon_s": 7776000, "churn_touchpoints": CHURN},
        {"name": "markov_channels", "kind": "markov", "goal": GOAL, "by": "channel"},
    ]


def write_csv(path, cols):
    import duckdb
    import pandas as pd
    cid, ts, seq, tp, ch, keys, chans = cols
    df = pd.DataFrame({"customer_id": cid, "ts": ts, "seq": seq,
                       "touchpoint": pd.Categorical.from_codes(tp, keys),
                       "channel": pd.Categorical.from_codes(ch, chans)})
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.register("df", df)
    con.execute("COPY (SELECT customer_id, ts, seq, touchpoint::VARCHAR AS touchpoint, channel::VARCHAR AS channel "
                f"FROM df) TO {dd_str(path)} (HEADER, DELIMITER ',')")
    con.close()


def run_generate(args):
    cols = generate(args.generate, args.customers or max(1, args.generate // 50), args.seed, not args.sorted)
    write_csv(args.out, cols)
    qpath = args.out[:-4] + ".queries.json" if args.out.endswith(".csv") else args.out + ".queries.json"
    with open(qpath, "w") as f:
        json.dump(default_queries(int(cols[1].max()) + 86400), f, indent=1)
    log(f"wrote {args.generate} rows to {args.out} and the default queries to {qpath}")


# --------------------------------------------------------------------------- selftest

def reference(events, q):
    """Plain-Python answers straight from the definitions, for the selftest."""
    by_c = {}
    for c, ts, seq, tp, ch in events:
        by_c.setdefault(c, []).append((ts, seq, tp, ch))
    for v in by_c.values():
        v.sort()
    kind = q["kind"]
    if kind == "funnel":
        steps, w = q["steps"], q["window_s"]
        levels = {}
        for evs in by_c.values():
            times = [[ts for ts, _, tp, _ in evs if tp == s] for s in steps]  # sorted per step
            best = 0
            for s0 in times[0]:
                lvl, cur = 1, s0
                for i in range(1, len(steps)):
                    nxt = [t for t in times[i] if t >= cur]  # equal ts count, whatever the seq
                    if not nxt or nxt[0] > s0 + w:
                        break
                    cur, lvl = nxt[0], i + 1
                best = max(best, lvl)
            levels[best] = levels.get(best, 0) + 1
        return funnel_shape(levels, len(steps))
    if kind == "transitions":
        cnt = {}
        for evs in by_c.values():
            for a, b in zip(evs, evs[1:]):
                cnt[(a[2], b[2])] = cnt.get((a[2], b[2]), 0) + 1
        return transitions_shape([(a, b, c) for (a, b), c in cnt.items()], int(q.get("top", 20)))
    if kind == "retention":
        p = q.get("periods", 8)
        agg = {}
        for evs in by_c.values():
            weeks = {(ts - MONDAY0) // WEEK for ts, _, _, _ in evs}
            w0 = min(weeks)
            for wk in weeks:
                if wk - w0 <= p:
                    agg[(w0, wk - w0)] = agg.get((w0, wk - w0), 0) + 1
        return retention_shape([(a, b, c) for (a, b), c in agg.items()], p)
    if kind == "journey_map":
        cutoff = q["now_s"] - q["churn_horizon_s"]
        res = {}
        for evs in by_c.values():
            tps = [e[2] for e in evs]
            conv = q["goal"] in tps
            exit_tp = None
            ci = next((i for i, t in enumerate(tps) if t in q["churn_touchpoints"]), None)
            if ci is not None:
                exit_tp = tps[ci - 1] if ci > 0 else None
            elif evs[-1][0] < cutoff:
                exit_tp = tps[-1]
            for t in set(tps):
                r = res.setdefault(t, [0, 0, 0])
                r[0] += 1
                r[1] += conv
                r[2] += exit_tp == t
        return journey_shape([(t, *v) for t, v in res.items()])
    if kind == "markov":
        paths = {}
        for evs in by_c.values():
            tps = [e[2] for e in evs]
            key = 3 if q.get("by", "channel") == "channel" else 2
            gi = next((i for i, e in enumerate(evs) if e[2] == q["goal"]), None)
            path = " > ".join(e[key] for e in (evs[:gi] if gi is not None else evs))
            cv = paths.setdefault(path, [0, 0])
            cv[0 if gi is not None else 1] += 1
        return sorted((p, c, n) for p, (c, n) in paths.items())
    raise ValueError(kind)


def run_selftest(args):
    import numpy as np
    tmp = tempfile.mkdtemp(prefix="peers-selftest-")
    problems = []
    try:
        datasets = []
        # 1) journeys shaped like the benchmark's, many ties in ts
        cols = generate(5000, 180, seed=11, shuffle=True, days=60, tie_p=0.3)
        datasets.append(("journeys", cols))
        # 2) dense: 5 touchpoints, ts in a small range with many ties, to stress the funnel
        rng = np.random.default_rng(5)
        n = 3000
        keys = ["a", "b", "c", "d", "account-closed"]
        chans = ["x", "y", "z"]
        tpc = rng.choice(5, n, p=[0.25, 0.25, 0.2, 0.2, 0.1]).astype(np.int8)
        ts = 1_767_225_600 + rng.integers(0, 12, n) * WEEK + rng.integers(0, 5, n) * 3600 * 6
        seq = np.empty(n, dtype=np.int64)
        seq[np.lexsort((rng.random(n), ts))] = np.arange(1, n + 1)
        datasets.append(("dense", (rng.integers(1, 120, n).astype(np.int64), ts, seq, tpc,
                                   (tpc % 3).astype(np.int8), keys, chans)))
        for name, cols in datasets:
            path = os.path.join(tmp, name + ".csv")
            write_csv(path, cols)
            cid, ts, seq, tpc, chc, keys, chans = cols
            events = [(int(c), int(t), int(s), keys[a], chans[b]) for c, t, s, a, b in zip(cid, ts, seq, tpc, chc)]
            now = int(ts.max()) + 86400
            if name == "journeys":
                fsteps = [["product-page", "cart", "checkout", GOAL], ["cart", "checkout"], [GOAL],
                          ["checkout", "payment-failed", "checkout", GOAL], ["cart", "cart", "cart"],
                          ["cart", "no-such-touchpoint", "checkout"]]
                goal, churn = GOAL, CHURN
            else:
                fsteps = [["a", "b", "c", "d"], ["a", "b"], ["b", "a", "b", "a"], ["a", "a"], ["d", "c", "b", "a"]]
                goal, churn = "d", ["account-closed"]
            queries = []
            for i, st in enumerate(fsteps):
                for w in (0, 3600 * 6, 86400, 604800, 10 ** 9):
                    queries.append({"name": f"funnel{i}_{w}", "kind": "funnel", "steps": st, "window_s": w})
            queries.append({"name": "transitions", "kind": "transitions", "top": 10 ** 6})
            queries.append({"name": "transitions_top7", "kind": "transitions", "top": 7})
            queries.append({"name": "journey_nogoal", "kind": "journey_map", "goal": "no-such-goal", "now_s": now,
                            "churn_horizon_s": 86400 * 3, "churn_touchpoints": churn + ["no-such-churn"]})
            queries.append({"name": "retention", "kind": "retention", "periods": 8})
            for horizon in (7776000, 86400 * 3):
                for ch in (churn, []):
                    queries.append({"name": f"journey_{horizon}_{len(ch)}", "kind": "journey_map", "goal": goal,
                                    "now_s": now, "churn_horizon_s": horizon, "churn_touchpoints": ch})
            engines = []
            for cls in (Chdb, Duck):
                try:
                    e = cls(2, os.path.join(tmp, name + cls.name))
                    e.load(path)
                    engines.append(e)
                except Exception as ex:
                    problems.append(f"{name}: {cls.name} unavailable: {ex}")
            for q in queries:
                ref = reference(events, q)
                for e in engines:
                    try:
                        got = getattr(e, KINDS[q["kind"]])(q)
                    except Exception as ex:
                        got = f"error: {ex}"
                    if got != ref:
                        problems.append(f"{name}/{q['name']}: {e.name} {json.dumps(got)[:600]} != reference {json.dumps(ref)[:600]}")
            # Markov: DuckDB's paths vs the reference; ChannelAttribution vs the exact solve
            mq = {"name": "markov", "kind": "markov", "goal": goal, "by": "channel"}
            duck = next((e for e in engines if e.name == "duckdb"), None)
            if duck is not None:
                df = duck.markov_paths(mq)
                got = sorted((p, int(c), int(n)) for p, c, n in df[["path", "total_conversions", "total_null"]]
                             .itertuples(index=False, name=None))
                ref = reference(events, mq)
                if got != ref:
                    problems.append(f"{name}/markov paths: duckdb differs from reference")
                try:
                    from ChannelAttribution import markov_model
                    res = markov_model(df, "path", "total_conversions", var_null="total_null", order=1,
                                       ncore=2, verbose=False, flg_pro=False)
                    ca = {str(r.channel_name): float(r.total_conversions) for r in res.itertuples()}
                    ex = markov_exact(ref)
                    tot = sum(ex.values())
                    worst = max(abs(ca.get(k, 0.0) - v) for k, v in ex.items()) / tot
                    say(f"selftest {name}: ChannelAttribution credits vs exact solve: max |diff| = "
                        f"{100 * worst:.2f} % of all conversions (Monte-Carlo noise; informational)")
                except ImportError:
                    say(f"selftest {name}: ChannelAttribution not installed, Markov credits not checked")
            for e in engines:
                e.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        for p in problems:
            say("DIFF " + p)
        say(f"selftest: FAILED ({len(problems)} differences)")
        return 1
    say("selftest: ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="journey CSV: customer_id,ts,seq,touchpoint,channel (header row)")
    ap.add_argument("--queries", help="QUERIES.json: a list of {name, kind, ...}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up; the median is reported")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--selftest", action="store_true", help="check chdb and DuckDB against each other and plain Python")
    ap.add_argument("--generate", type=int, metavar="ROWS", help="write a synthetic journey CSV (with --out)")
    ap.add_argument("--out", help="CSV path for --generate (FILE.queries.json is written beside it)")
    ap.add_argument("--customers", type=int, help="customers for --generate (default ROWS / 50)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sorted", action="store_true", help="--generate rows sorted by customer and time")
    args = ap.parse_args()
    _grab_stdout()
    if args.selftest:
        return run_selftest(args)
    if args.generate:
        if not args.out:
            ap.error("--generate needs --out")
        run_generate(args)
        return 0
    if not args.data or not args.queries:
        ap.error("--data and --queries are required (or --selftest, or --generate)")
    run_bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
