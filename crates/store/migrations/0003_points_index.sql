-- A covering index for loading the journey index: (project, arrival order) with the
-- customer, time and touchpoint of each event, so start-up never reads event bodies.
CREATE INDEX events_points ON events (project_id, id, customer_id, ts_ms, touchpoint_id);
