-- Library packs (issue 10): duplicate detection looks materials up by content hash.
CREATE INDEX materials_sha256 ON materials(sha256);
