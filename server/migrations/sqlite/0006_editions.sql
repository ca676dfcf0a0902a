-- Library editions (issue 10): one row per imported weekly pack. The most
-- recently approved edition is `current` (what `edition = "current"`
-- playlist items select); the one it replaced is `superseded` and its
-- materials leave every rotation. Kept in step with the other backend.
CREATE TABLE editions (
    id TEXT PRIMARY KEY,
    publisher TEXT NOT NULL,
    issued TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    imported_by TEXT NOT NULL,
    state TEXT NOT NULL,
    approved_by TEXT,
    approved_at BIGINT,
    superseded_at BIGINT,
    superseded_by TEXT
);
CREATE INDEX editions_state ON editions(state);

-- The daily expiry report (materials expiring within 7 days), one per
-- local day, produced by the running server.
CREATE TABLE expiry_reports (
    day TEXT PRIMARY KEY,
    produced_at BIGINT NOT NULL,
    report TEXT NOT NULL
);
