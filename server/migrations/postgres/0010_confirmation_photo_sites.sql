-- A confirmation photo belongs to the sites of the user who uploaded it
-- ('*' for a user who sees every site): a confirmation may attach only a
-- photo uploaded for its screen's site (a digest seen elsewhere is not
-- enough). Photos uploaded before this migration have no row and can no
-- longer be attached; they stay visible where already attached. Kept in
-- step with the other backend.
CREATE TABLE confirmation_photo_sites (
    sha256 TEXT NOT NULL,
    site_id TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (sha256, site_id)
);
