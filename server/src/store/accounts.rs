//! Users, site bindings, sessions, API tokens, throttle events and the
//! append-only audit log. Secrets arrive already hashed (argon2 for
//! passwords, SHA-256 for random tokens); this module never sees plaintext.

use serde::Serialize;
use sqlx::Row;

use super::{conflict_or, Store, StoreError, StoreResult};

/// What a user may do (DESIGN.md §10).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including accounts, enrollment and the audit log.
    Admin,
    /// Uploads materials, applies playlists, sends alerts.
    Editor,
    /// Approves or rejects materials and schedules (not their own).
    Approver,
    /// Reads and confirms its own sites only.
    Branch,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Branch => "branch",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "approver" => Some(Role::Approver),
            "branch" => Some(Role::Branch),
            _ => None,
        }
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UserRow {
    /// Stable id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Argon2 PHC string.
    #[serde(skip)]
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Sites a branch user is bound to (empty for other roles).
    pub sites: Vec<String>,
    /// Creation instant (ms).
    pub created_at: i64,
    /// Set when the account is disabled.
    pub disabled_at: Option<i64>,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Stable id (random).
    pub id: &'a str,
    /// Login name.
    pub username: &'a str,
    /// Argon2 PHC string.
    pub password_hash: &'a str,
    /// Role.
    pub role: Role,
    /// Sites (branch users).
    pub sites: &'a [String],
    /// Creation instant (ms).
    pub now: i64,
}

/// A browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The session's user.
    pub user_id: String,
    /// The CSRF token the session's state changes must echo.
    pub csrf_token: String,
    /// Expiry (ms).
    pub expires_at: i64,
}

/// An API token's public part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ApiTokenRow {
    /// Token id (not the secret).
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// What it is for.
    pub name: String,
    /// Creation (ms).
    pub created_at: i64,
    /// Revocation (ms).
    pub revoked_at: Option<i64>,
}

/// One audit log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Sequence.
    pub id: i64,
    /// When (ms).
    pub at: i64,
    /// Who (user name, `device:{screen}`, or `cli`).
    pub actor: String,
    /// What, e.g. `material.approve`.
    pub action: String,
    /// On what, e.g. a material id.
    pub target: String,
    /// Extra facts (JSON text).
    pub detail: String,
    /// From where (client address), when known.
    pub remote_addr: Option<String>,
}

impl Store {
    /// Every actor and every action in the audit log, each sorted (the
    /// audit page's filters).
    pub async fn audit_facets(&self) -> StoreResult<(Vec<String>, Vec<String>)> {
        let mut out = Vec::new();
        for column in ["actor", "action"] {
            let rows = sqlx::query(&format!(
                "SELECT DISTINCT {column} AS v FROM audit_log ORDER BY {column}"
            ))
            .fetch_all(&self.pool)
            .await?;
            out.push(
                rows.iter()
                    .map(|r| r.try_get("v"))
                    .collect::<Result<Vec<String>, _>>()?,
            );
        }
        let actions = out.pop().unwrap_or_default();
        let actors = out.pop().unwrap_or_default();
        Ok((actors, actions))
    }
}

impl Store {
    /// Creates a user (and its site bindings) in one transaction.
    pub async fn create_user(&self, user: NewUser<'_>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.id)
        .bind(user.username)
        .bind(user.password_hash)
        .bind(user.role.as_str())
        .bind(user.now)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, format!("user {:?}", user.username)))?;
        for site in user.sites {
            sqlx::query("INSERT INTO user_sites (user_id, site_id) VALUES ($1, $2)")
                .bind(user.id)
                .bind(site)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a user's password hash.
    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Disables a user at `disabled_at`, or enables them again (`None`).
    /// Disabling ends the user's sessions at once; their API tokens are
    /// kept but refused while the account is disabled (every request checks
    /// `disabled_at`), so enabling it again brings the scripts back and not
    /// the browser sessions. False when there is no such user.
    pub async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(disabled_at)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if disabled_at.is_some() {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a user's password hash and ends their sessions (an admin's
    /// password reset: whoever held the old password is logged out).
    /// False when there is no such user.
    pub async fn reset_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn user_from_row(&self, row: sqlx::any::AnyRow) -> StoreResult<UserRow> {
        let id: String = row.try_get("id")?;
        let role_text: String = row.try_get("role")?;
        let role = Role::parse(&role_text).ok_or_else(|| StoreError::Corrupt {
            table: "users",
            detail: format!("role {role_text:?}"),
        })?;
        let sites =
            sqlx::query("SELECT site_id FROM user_sites WHERE user_id = $1 ORDER BY site_id")
                .bind(&id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|r| r.try_get::<String, _>("site_id"))
                .collect::<Result<Vec<_>, _>>()?;
        Ok(UserRow {
            id,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role,
            sites,
            created_at: row.try_get("created_at")?,
            disabled_at: row.try_get("disabled_at")?,
        })
    }

    /// A user by login name.
    pub async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.user_from_row(row).await?)),
            None => Ok(None),
        }
    }

    /// A user by id.
    pub async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.user_from_row(row).await?)),
            None => Ok(None),
        }
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> StoreResult<Vec<UserRow>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in rows {
            users.push(self.user_from_row(row).await?);
        }
        Ok(users)
    }

    /// Stores a new session keyed by the SHA-256 of its cookie value.
    pub async fn create_session(
        &self,
        token_sha256: &str,
        user_id: &str,
        csrf_token: &str,
        now: i64,
        expires_at: i64,
        remote_addr: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_sha256, user_id, csrf_token, created_at, expires_at, remote_addr) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_sha256)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now)
        .bind(expires_at)
        .bind(remote_addr)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A live session (not expired at `now`).
    pub async fn session(&self, token_sha256: &str, now: i64) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT user_id, csrf_token, expires_at FROM sessions \
             WHERE token_sha256 = $1 AND expires_at > $2",
        )
        .bind(token_sha256)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SessionRow {
                user_id: row.try_get("user_id")?,
                csrf_token: row.try_get("csrf_token")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Ends a session; also drops every session expired at `now`.
    pub async fn delete_session(&self, token_sha256: &str, now: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1 OR expires_at <= $2")
            .bind(token_sha256)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores an API token keyed by the SHA-256 of its secret.
    pub async fn create_api_token(
        &self,
        id: &str,
        token_sha256: &str,
        user_id: &str,
        name: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, token_sha256, user_id, name, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(token_sha256)
        .bind(user_id)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The owner of a live (unrevoked) API token.
    pub async fn api_token_user(&self, token_sha256: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query(
            "SELECT user_id FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("user_id")).transpose()?)
    }

    /// Revokes a token of `user_id`; false when there was none.
    pub async fn revoke_api_token(&self, id: &str, user_id: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The tokens of one user.
    pub async fn list_api_tokens(&self, user_id: &str) -> StoreResult<Vec<ApiTokenRow>> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, created_at, revoked_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ApiTokenRow {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Counts events in `bucket` since `since` (throttles shared by replicas).
    pub async fn count_rate_events(&self, bucket: &str, since: i64) -> StoreResult<u64> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM rate_events WHERE bucket = $1 AND at > $2")
                .bind(bucket)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
        Ok(super::to_u64(row.try_get("n")?))
    }

    /// Records one event in `bucket` and forgets events older than `forget_before`.
    pub async fn add_rate_event(
        &self,
        bucket: &str,
        now: i64,
        forget_before: i64,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM rate_events WHERE at < $1")
            .bind(forget_before)
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO rate_events (bucket, at) VALUES ($1, $2)")
            .bind(bucket)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets the events of `bucket` recorded at `at` (a reserved login
    /// attempt that succeeded).
    pub async fn remove_rate_event(&self, bucket: &str, at: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM rate_events WHERE bucket = $1 AND at = $2")
            .bind(bucket)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Accounts locked out of logging in from some address: every
    /// `login:{user}@{address}` bucket with at least `allowed` failures since
    /// `since`, as `(user name, address, failures, newest failure)`.
    pub async fn login_locks(
        &self,
        since: i64,
        allowed: u64,
    ) -> StoreResult<Vec<(String, String, u64, i64)>> {
        let rows = sqlx::query(
            "SELECT bucket, COUNT(*) AS n, MAX(at) AS newest FROM rate_events \
             WHERE substr(bucket, 1, 6) = 'login:' AND at > $1 \
             GROUP BY bucket ORDER BY bucket",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let mut locks = Vec::new();
        for row in rows {
            let bucket: String = row.try_get("bucket")?;
            let failures = super::to_u64(row.try_get("n")?);
            let Some((user, address)) = bucket
                .strip_prefix("login:")
                .and_then(|rest| rest.split_once('@'))
            else {
                continue;
            };
            if failures >= allowed {
                locks.push((
                    user.to_owned(),
                    address.to_owned(),
                    failures,
                    row.try_get("newest")?,
                ));
            }
        }
        Ok(locks)
    }

    /// Lifts `username`'s login locks from every address (an admin's
    /// unlock): its failure buckets, and the failures those addresses
    /// counted over all accounts. Returns how many addresses it was locked from.
    pub async fn clear_login_failures(&self, username: &str) -> StoreResult<u64> {
        let prefix = format!("login:{username}@");
        // LIKE narrows (SQLite's ignores case); the exact prefix is checked below.
        let pattern = format!(
            "{}%",
            prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows =
            sqlx::query("SELECT DISTINCT bucket FROM rate_events WHERE bucket LIKE $1 ESCAPE '\\'")
                .bind(pattern)
                .fetch_all(&self.pool)
                .await?;
        let mut tx = self.pool.begin().await?;
        let mut addresses = 0;
        for row in rows {
            let bucket: String = row.try_get("bucket")?;
            let Some(address) = bucket.strip_prefix(&prefix) else {
                continue;
            };
            for clear in [bucket.clone(), format!("login-addr:{address}")] {
                sqlx::query("DELETE FROM rate_events WHERE bucket = $1")
                    .bind(clear)
                    .execute(&mut *tx)
                    .await?;
            }
            addresses += 1;
        }
        tx.commit().await?;
        Ok(addresses)
    }

    /// Forgets every event in `bucket` (a successful login clears its failures).
    pub async fn clear_rate_events(&self, bucket: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM rate_events WHERE bucket = $1")
            .bind(bucket)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends one audit line.
    pub async fn audit(
        &self,
        at: i64,
        actor: &str,
        action: &str,
        target: &str,
        detail: &serde_json::Value,
        remote_addr: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, detail, remote_addr) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail.to_string())
        .bind(remote_addr)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` audit lines, newest first, before id `before` when given.
    pub async fn audit_log(&self, limit: i64, before: Option<i64>) -> StoreResult<Vec<AuditEntry>> {
        self.audit_log_filtered(limit, before, None, None).await
    }

    /// [`Store::audit_log`] narrowed to one actor and/or one action.
    pub async fn audit_log_filtered(
        &self,
        limit: i64,
        before: Option<i64>,
        actor: Option<&str>,
        action: Option<&str>,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, detail, remote_addr FROM audit_log \
             WHERE id < $1 AND ($2 = '' OR actor = $2) AND ($3 = '' OR action = $3) \
             ORDER BY id DESC LIMIT $4",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(actor.unwrap_or_default())
        .bind(action.unwrap_or_default())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    detail: r.try_get("detail")?,
                    remote_addr: r.try_get("remote_addr")?,
                })
            })
            .collect()
    }
}
