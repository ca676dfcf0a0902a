-- Legibility (issue 16). Each rendition keeps what the renderer measured
-- and its verdict as JSON (lit LEDs, glyph size, length, problems in zh-CN
-- and en); NULL for renditions made before these rules, which the server
-- judges and, for texts, renders again. A material that cannot be rendered
-- legibly for a profile (a text too long for a still-only panel) is
-- recorded with the reason instead of being skipped silently. Media judged
-- illegible (e.g. the dark mono text strips of earlier versions) is listed
-- so compliance never counts their plays as warnings. Kept in step with the
-- other backend.
ALTER TABLE renditions ADD COLUMN facts TEXT;

CREATE TABLE rendition_refusals (
    material_id TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    problem TEXT NOT NULL,
    PRIMARY KEY (material_id, profile_id)
);

CREATE TABLE illegible_media (
    sha256 TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    judged_at BIGINT NOT NULL
);
