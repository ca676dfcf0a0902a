-- Whether a material counts as an anti-fraud warning for compliance rules
-- (notices such as business hours do not).
ALTER TABLE materials ADD COLUMN is_warning BIGINT NOT NULL DEFAULT 1;
