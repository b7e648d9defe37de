-- The knowledge base: a project's articles, and every version of each. An article is its
-- newest version; an edit adds a version and never changes one.
CREATE TABLE kb_articles (
    id {{id}},
    project_id BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX kb_articles_project ON kb_articles (project_id);

CREATE TABLE kb_versions (
    article_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    lang TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published BOOLEAN NOT NULL,
    author TEXT,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (article_id, version)
);
