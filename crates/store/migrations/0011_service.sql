-- The service team's requests: each opened by a customer in the portal, with a timeline
-- of entries (messages, status changes, assignments) that are added and never changed.
-- And the portal's used sign-in links: a link is single use, its nonce a primary key.
CREATE TABLE requests (
    id {{id}},
    project_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    lang TEXT NOT NULL,
    email TEXT,
    assignee TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    resolved_ms BIGINT
);
CREATE INDEX requests_project ON requests (project_id, id);
CREATE INDEX requests_customer ON requests (project_id, customer_id);

CREATE TABLE request_entries (
    id {{id}},
    request_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    author TEXT NOT NULL,
    author_name TEXT,
    body TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX request_entries_request ON request_entries (request_id, id);

CREATE TABLE portal_links (
    project_id BIGINT NOT NULL,
    nonce TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms BIGINT NOT NULL,
    PRIMARY KEY (project_id, nonce)
);
