-- Events are kept in segments (see store/src/segment.rs): one row per up to 2048 events
-- of one project with consecutive ids, keyed by the id of its last event. The embedded
-- store converts the rows of the old `events` table when it opens a file made before.
CREATE TABLE event_segments (
    last_id {{id}},
    project_id BIGINT NOT NULL,
    first_id BIGINT NOT NULL,
    events INTEGER NOT NULL,
    points {{blob}} NOT NULL,
    data {{blob}} NOT NULL
);
CREATE INDEX event_segments_project ON event_segments (project_id, last_id);

-- The timeline index: which segments hold events of a customer.
CREATE TABLE event_timeline (
    customer_id BIGINT NOT NULL,
    segment_id BIGINT NOT NULL,
    PRIMARY KEY (customer_id, segment_id)
){{without_rowid}};
