-- Message preferences per channel as well as per category: a customer may take offers by
-- e-mail but not as text messages. `channel` is `all` (every channel: what each earlier
-- choice meant, and kept so) or one a rule sends on (`email`, `webhook`, `in_page`).
CREATE TABLE preferences_by_channel (
    project_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    category TEXT NOT NULL,
    channel TEXT NOT NULL,
    allowed BOOLEAN NOT NULL,
    updated_ms BIGINT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (project_id, customer_id, category, channel)
){{without_rowid}};
INSERT INTO preferences_by_channel (project_id, customer_id, category, channel, allowed, updated_ms, source)
    SELECT project_id, customer_id, category, 'all', allowed, updated_ms, source FROM preferences;
DROP TABLE preferences;
ALTER TABLE preferences_by_channel RENAME TO preferences;
