-- Touchpoint schema, version 1. Written once for every SQL backend: the runner replaces
-- {{id}} with the dialect's auto-increment primary key and {{blob}} with its byte type.

CREATE TABLE projects (
    id {{id}},
    name TEXT NOT NULL UNIQUE,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    churn_horizon_days INTEGER NOT NULL DEFAULT 90,
    stages TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id {{id}},
    project_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);

CREATE TABLE touchpoints (
    id {{id}},
    project_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    name_en TEXT NOT NULL,
    name_cs TEXT NOT NULL,
    name_pl TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    stage TEXT,
    department TEXT,
    conversion BOOLEAN NOT NULL DEFAULT FALSE,
    churn BOOLEAN NOT NULL DEFAULT FALSE,
    discovered BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms BIGINT NOT NULL,
    UNIQUE (project_id, key)
);

CREATE TABLE rules (
    id {{id}},
    project_id BIGINT NOT NULL,
    priority INTEGER NOT NULL,
    touchpoint_key TEXT NOT NULL,
    event_type TEXT,
    event_name TEXT,
    conditions TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX rules_project ON rules (project_id);

CREATE TABLE customers (
    id BIGINT PRIMARY KEY,
    project_id BIGINT NOT NULL,
    user_id TEXT,
    merged_into BIGINT,
    traits TEXT NOT NULL DEFAULT '{}',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX customers_project ON customers (project_id, id);
CREATE INDEX customers_merged ON customers (merged_into);

CREATE TABLE identities (
    project_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (project_id, kind, value)
);
CREATE INDEX identities_customer ON identities (customer_id);

CREATE TABLE identity_conflicts (
    id {{id}},
    project_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    other_customer_id BIGINT NOT NULL,
    identity TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX identity_conflicts_project ON identity_conflicts (project_id, id);

CREATE TABLE events (
    id {{id}},
    project_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT,
    user_id TEXT,
    anonymous_id TEXT,
    customer_id BIGINT NOT NULL,
    touchpoint_id BIGINT,
    ts_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    flags INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (project_id, message_id)
);
CREATE INDEX events_customer ON events (customer_id, ts_ms);

CREATE TABLE failed_events (
    id {{id}},
    project_id BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    source TEXT NOT NULL,
    field TEXT NOT NULL,
    reason TEXT NOT NULL,
    raw {{blob}} NOT NULL
);
CREATE INDEX failed_events_project ON failed_events (project_id, id);

CREATE TABLE daily_volume (
    project_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    touchpoint_id BIGINT NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (project_id, day, touchpoint_id)
);
