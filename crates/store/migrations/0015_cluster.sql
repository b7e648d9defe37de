-- Several nodes on one PostgreSQL + ClickHouse deployment: one node writes events (it
-- holds the writer lock); the others hand it what they would write through `relay_inbox`
-- and read its answers from `relay_replies`; every node's journey index follows the
-- writing node's commits through `commit_log`. The embedded store is one process and
-- leaves these tables empty.
CREATE TABLE relay_inbox (
    seq {{id}},
    -- The command, JSON (`touchpoint_store::relay::Command`).
    command TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE relay_replies (
    seq BIGINT PRIMARY KEY,
    -- The answer, JSON (`touchpoint_store::relay::Reply`).
    reply TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE commit_log (
    seq {{id}},
    -- The notice's `upto`: every event up to this id is committed in full.
    upto BIGINT,
    -- The notice, JSON (`touchpoint_store::relay::Notice`).
    notice TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
