-- Issue 21: replicas without a shared disk. With [replicas] configured, the
-- server signing keys live here sealed (XChaCha20-Poly1305 under the
-- deployment's key-encryption key, which is never stored in the database),
-- and every medium is kept here too, in parts, so a replica that starts
-- with an empty data_dir signs with the deployment's key and serves every
-- medium.
CREATE TABLE deployment_keys (
    slot TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    key_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE media_blobs (
    sha256 TEXT NOT NULL,
    part BIGINT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (sha256, part)
);
