-- ledcast store, SQLite flavour. Kept in step with ../postgres/0001_init.sql
-- (a test compares their tables and columns). Instants are BIGINT
-- milliseconds since the Unix epoch (UTC); booleans are BIGINT 0/1.

CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE profiles (
    id TEXT PRIMARY KEY,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    color_class TEXT NOT NULL,
    can_play_video BIGINT NOT NULL,
    can_scroll BIGINT NOT NULL
);

CREATE TABLE screens (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    name TEXT NOT NULL,
    profile_id TEXT NOT NULL REFERENCES profiles(id),
    tags TEXT NOT NULL,
    timezone TEXT NOT NULL,
    opening_hours TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE media_objects (
    sha256 TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE materials (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    tags TEXT NOT NULL,
    source TEXT NOT NULL,
    mime TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    width BIGINT,
    height BIGINT,
    duration_ms BIGINT,
    valid_from BIGINT,
    valid_until BIGINT,
    state TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    retired_at BIGINT
);
CREATE INDEX materials_state ON materials(state);

CREATE TABLE renditions (
    material_id TEXT NOT NULL REFERENCES materials(id),
    profile_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    mime TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    PRIMARY KEY (material_id, profile_id)
);

CREATE TABLE playlist_files (
    name TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE playlists (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    playlist_id TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE rules (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    text TEXT,
    material_id TEXT,
    targets TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    until BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ended_at BIGINT
);

CREATE TABLE rotations (
    screen_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    content_sha256 TEXT NOT NULL,
    envelope BLOB NOT NULL,
    envelope_sha256 TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (screen_id, version)
);

CREATE TABLE play_records (
    screen_id TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    media TEXT NOT NULL,
    material_id TEXT NOT NULL,
    rotation_version BIGINT,
    is_warning BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    outcome TEXT NOT NULL,
    clock_suspect BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (screen_id, boot_id, seq)
);
CREATE INDEX play_records_screen_started ON play_records(screen_id, started_at);

CREATE TABLE play_daily (
    screen_id TEXT NOT NULL,
    day TEXT NOT NULL,
    plays BIGINT NOT NULL,
    warning_plays BIGINT NOT NULL,
    interrupted_plays BIGINT NOT NULL,
    played_ms BIGINT NOT NULL,
    warning_ms BIGINT NOT NULL,
    first_started_at BIGINT NOT NULL,
    last_ended_at BIGINT,
    last_received_at BIGINT NOT NULL,
    PRIMARY KEY (screen_id, day)
);

CREATE TABLE confirmations (
    id TEXT PRIMARY KEY,
    screen_id TEXT NOT NULL,
    period_from BIGINT NOT NULL,
    period_until BIGINT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    evidence TEXT NOT NULL,
    confirmed_by TEXT NOT NULL,
    confirmed_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE user_sites (
    user_id TEXT NOT NULL REFERENCES users(id),
    site_id TEXT NOT NULL REFERENCES sites(id),
    PRIMARY KEY (user_id, site_id)
);

CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    remote_addr TEXT
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE rate_events (
    bucket TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX rate_events_bucket_at ON rate_events(bucket, at);

CREATE TABLE enrollment_codes (
    code_sha256 TEXT PRIMARY KEY,
    screen_id TEXT NOT NULL REFERENCES screens(id),
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE device_keys (
    key_id TEXT NOT NULL,
    screen_id TEXT NOT NULL REFERENCES screens(id),
    public_key_hex TEXT NOT NULL,
    broker_username TEXT NOT NULL,
    broker_password_sha256 TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (screen_id, key_id, enrolled_at)
);
CREATE INDEX device_keys_broker_username ON device_keys(broker_username);

CREATE TABLE screen_state (
    screen_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    status_since BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    reported_at BIGINT NOT NULL,
    boot_id TEXT NOT NULL,
    rotation_version BIGINT,
    pending_version BIGINT,
    stale BIGINT NOT NULL,
    cache_items BIGINT NOT NULL,
    cache_bytes BIGINT NOT NULL,
    cache_missing BIGINT NOT NULL,
    journal_pending BIGINT NOT NULL,
    last_error TEXT,
    agent_version TEXT NOT NULL,
    state_json TEXT NOT NULL
);

CREATE TABLE presence_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    screen_id TEXT NOT NULL,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    boot_id TEXT NOT NULL
);

CREATE TABLE screenshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    screen_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    signed_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX screenshots_screen ON screenshots(screen_id, id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    remote_addr TEXT
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
