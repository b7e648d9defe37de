-- "Sign out everywhere" in the portal: a customer's sessions signed before `before_ms`
-- are refused (a session is a signed cookie, so it is ended by this cut-off, not by a row
-- of its own).
CREATE TABLE portal_signouts (
    project_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    before_ms BIGINT NOT NULL,
    PRIMARY KEY (project_id, customer_id)
){{without_rowid}};
