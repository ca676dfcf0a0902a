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

CREATE TRIGGER confirmations_no_update BEFORE UPDATE ON confirmations
BEGIN SELECT RAISE(ABORT, 'confirmations cannot be edited; add a correction'); END;
CREATE TRIGGER confirmations_no_delete BEFORE DELETE ON confirmations
BEGIN SELECT RAISE(ABORT, 'confirmations cannot be deleted; add a correction'); END;
