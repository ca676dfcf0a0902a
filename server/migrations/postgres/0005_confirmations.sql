-- Branch confirmations (issue 8): one row per confirmation, never edited or
-- deleted; a correction is a new row whose `corrects` names the earlier one.
-- `status` holds the verdict (`ok` or `problem`), `evidence` the compliance
-- figures and screenshot hashes the confirmer saw, as JSON.
ALTER TABLE confirmations ADD COLUMN site_id TEXT NOT NULL DEFAULT '';
ALTER TABLE confirmations ADD COLUMN week TEXT NOT NULL DEFAULT '';
ALTER TABLE confirmations ADD COLUMN photo_sha256 TEXT;
ALTER TABLE confirmations ADD COLUMN corrects TEXT;
ALTER TABLE confirmations ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX confirmations_site_week ON confirmations(site_id, week, seq);
CREATE UNIQUE INDEX confirmations_corrects ON confirmations(corrects);

CREATE FUNCTION confirmations_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'confirmations cannot be edited or deleted; add a correction';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER confirmations_no_change BEFORE UPDATE OR DELETE ON confirmations
FOR EACH ROW EXECUTE FUNCTION confirmations_append_only();
