-- Play records of screens driven through a vendor bridge (issue 23): which
-- controller family played them, and whether the card confirmed the loop
-- for the record's whole time. Unconfirmed bridged time is unproven.
ALTER TABLE play_records ADD COLUMN bridge_vendor TEXT;
ALTER TABLE play_records ADD COLUMN bridge_confirmed INTEGER NOT NULL DEFAULT 1;
