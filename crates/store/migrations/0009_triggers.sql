-- Acting at key moments: trigger rules, the outbox of their firings, the worker's cursor
-- and customers' message preferences.
--
-- A firing is decided at most once per (rule, customer, triggering event): the unique
-- key below. Its id (`msg_…`) is what every delivery attempt carries.
CREATE TABLE trigger_rules (
    id {{id}},
    project_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    UNIQUE (project_id, key)
);

CREATE TABLE firings (
    seq {{id}},
    id TEXT NOT NULL UNIQUE,
    project_id BIGINT NOT NULL,
    rule_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    event_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    held_out BOOLEAN NOT NULL,
    next_ms BIGINT NOT NULL,
    reason TEXT,
    payload TEXT NOT NULL,
    decided_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    done_ms BIGINT,
    UNIQUE (rule_id, customer_id, event_id)
);
-- The delivery loop's question: what is open and due.
CREATE INDEX firings_open ON firings (next_ms) WHERE state IN ('waiting', 'pending');
CREATE INDEX firings_by_rule ON firings (project_id, rule_id, seq);
CREATE INDEX firings_by_customer ON firings (project_id, customer_id, seq);

-- The last event id the trigger worker decided on (one row, id 1).
CREATE TABLE trigger_cursor (
    id BIGINT PRIMARY KEY,
    event_id BIGINT NOT NULL
);

CREATE TABLE preferences (
    project_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    category TEXT NOT NULL,
    allowed BOOLEAN NOT NULL,
    updated_ms BIGINT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (project_id, customer_id, category)
){{without_rowid}};
