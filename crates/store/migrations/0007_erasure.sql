-- Erasure of customers (GDPR article 17, see store/src/erasure.rs).
--
-- A project's suppression list: the identity values (user ids, anonymous ids) of erased
-- customers, as HMAC-SHA-256 under a random key of the project, never as the values.
-- Events naming one are refused, and counted in suppression_counts.
CREATE TABLE suppression_keys (
    project_id BIGINT PRIMARY KEY,
    secret {{blob}} NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE suppressed_ids (
    project_id BIGINT NOT NULL,
    hash {{blob}} NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (project_id, hash)
){{without_rowid}};

CREATE TABLE suppression_counts (
    project_id BIGINT PRIMARY KEY,
    refused BIGINT NOT NULL
);

-- Store-wide numbers erasure keeps: `suppression_version` (changes whenever a list
-- does, so a writer knows to reload it), `customer_id_floor` (the highest erased customer
-- id: never given out again) and `purge_pending` (1 while removed data may still be in
-- the files; the embedded store purges at open when it finds it).
CREATE TABLE erasure_state (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
