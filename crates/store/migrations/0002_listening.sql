-- Listening: surveys and their versions, invitations, responses and imported benchmarks.

CREATE TABLE project_secrets (
    project_id BIGINT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE surveys (
    id {{id}},
    project_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    public_id TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    UNIQUE (project_id, key)
);

CREATE TABLE survey_versions (
    survey_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (survey_id, version)
);

CREATE TABLE invitations (
    id {{id}},
    project_id BIGINT NOT NULL,
    survey_id BIGINT NOT NULL,
    customer TEXT NOT NULL,
    touchpoint TEXT,
    lang TEXT,
    expires_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX invitations_survey ON invitations (survey_id);

CREATE TABLE responses (
    id {{id}},
    project_id BIGINT NOT NULL,
    survey_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    invitation_id BIGINT UNIQUE,
    session TEXT,
    external_id TEXT,
    customer TEXT,
    touchpoint TEXT,
    lang TEXT,
    answers TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    weight DOUBLE PRECISION NOT NULL DEFAULT 1,
    source TEXT NOT NULL,
    complete BOOLEAN NOT NULL DEFAULT FALSE,
    page INTEGER NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    completed_ms BIGINT
);
CREATE UNIQUE INDEX responses_session ON responses (survey_id, session);
CREATE UNIQUE INDEX responses_external ON responses (project_id, external_id);
CREATE INDEX responses_survey ON responses (survey_id, id);

CREATE TABLE benchmarks (
    id {{id}},
    project_id BIGINT NOT NULL,
    source TEXT NOT NULL,
    metric TEXT NOT NULL,
    segment TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    n DOUBLE PRECISION,
    se DOUBLE PRECISION,
    created_ms BIGINT NOT NULL
);
CREATE INDEX benchmarks_project ON benchmarks (project_id);
