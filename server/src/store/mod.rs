//! The database: one `Store` over SQLite (default, WAL, `synchronous=FULL`)
//! or PostgreSQL (by `database_url`), with one migration set per backend.
//!
//! Every query is plain SQL with `$n` binds that both backends accept (sqlx's
//! `Any` driver); instants are BIGINT milliseconds, booleans BIGINT 0/1. This
//! module does not read the clock (callers pass `now`), hash passwords, or
//! know about HTTP.

mod accounts;
mod compliance;
mod content;
mod domain;
mod editions;
mod evidence;
mod fleet;
mod shared;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use accounts::{ApiTokenRow, AuditEntry, NewUser, Role, SessionRow, UserRow};
pub use compliance::{ConfirmError, ConfirmationRow, NewConfirmation, Play};
pub use content::{
    AlertRow, MaterialFilter, MaterialRow, NewMaterial, PlaylistFile, RenditionRow, ScheduleRow,
};
pub use domain::{
    BranchVerdict, EditionState, MaterialKind, MaterialState, ScheduleState, ScreenPresence,
    StoredWord, Verdict,
};
pub use editions::{ApproveOutcome, EditionRow, ExpiryReportRow};
pub use evidence::{PlayDay, RotationCandidate, ScreenshotRow, StoredRotation};
pub use fleet::{
    BrokerLoginRow, DeviceKeyRow, NewDeviceKey, OfflineScreen, ProfileRow, RecordedStates,
    ScreenRow, ScreenStateRow, ScreenVersions, SiteRow,
};

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (default).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Store failures. `Conflict` and `NotFound` are for callers to map; the
/// rest are internal and never shown to users verbatim.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique key already exists.
    #[error("{what} already exists")]
    Conflict {
        /// What collided, in words.
        what: String,
    },
    /// A stored value could not be interpreted.
    #[error("corrupt stored value in {table}: {detail}")]
    Corrupt {
        /// Table read.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The database URL names an unsupported scheme.
    #[error("unsupported database url {url:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl {
        /// The URL (without credentials).
        url: String,
    },
}

/// Result alias for the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// Connection pool plus the backend it talks to.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// Read-only connections for hot lookups (broker logins, device keys)
    /// on SQLite, so they do not queue behind the one writer's commits
    /// (WAL lets readers run beside it). The same pool as `pool` on
    /// PostgreSQL and for in-memory SQLite.
    read_pool: AnyPool,
    backend: Backend,
}

/// Read-only SQLite connections beside the writer.
const SQLITE_READERS: u32 = 4;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Connects to `url` and applies migrations. For PostgreSQL, `schema`
    /// (when given) becomes the search path of every connection; it must
    /// already exist (tests use a fresh schema per run).
    pub async fn connect(url: &str, schema: Option<&str>) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl {
                url: url.split('@').next_back().unwrap_or_default().to_owned(),
            });
        };
        let options = AnyConnectOptions::from_str(url)?;
        let schema = schema.map(str::to_owned);
        let pool = AnyPoolOptions::new()
            // SQLite has one writer; a deferred transaction that reads and
            // then writes fails with "database is locked" (no busy wait) when
            // another connection wrote in between. One connection serialises
            // writers instead, which is what SQLite does anyway.
            .max_connections(if backend == Backend::Sqlite { 1 } else { 10 })
            .after_connect(move |conn, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            conn.execute(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                                 PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
                            )
                            .await?;
                        }
                        Backend::Postgres => {
                            if let Some(schema) = schema {
                                conn.execute(format!("SET search_path TO \"{schema}\"").as_str())
                                    .await?;
                            }
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let mut store = Store {
            read_pool: pool.clone(),
            pool,
            backend,
        };
        store.migrate().await?;
        if backend == Backend::Sqlite && !url.contains(":memory:") && !url.contains("mode=memory") {
            store.read_pool = AnyPoolOptions::new()
                .max_connections(SQLITE_READERS)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute("PRAGMA query_only=ON; PRAGMA busy_timeout=10000;")
                            .await?;
                        Ok(())
                    })
                })
                .connect_with(AnyConnectOptions::from_str(url)?)
                .await?;
        }
        Ok(store)
    }

    /// `count` bind placeholders numbered from `first`, comma-separated:
    /// `$N` on PostgreSQL, anonymous `?` on SQLite. sqlx resolves a named
    /// SQLite parameter with a linear scan per parameter, so a multi-row
    /// statement with thousands of `$N` spent three quarters of an ingest
    /// in `sqlite3_bind_parameter_name`. Never mix with `$N` in one statement.
    pub(crate) fn placeholders(&self, first: usize, count: usize) -> String {
        let mut out = String::with_capacity(count * 4);
        for n in first..first + count {
            if n > first {
                out.push_str(", ");
            }
            match self.backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&n.to_string());
                }
            }
        }
        out
    }

    /// `rows` parenthesised groups of `width` placeholders for a multi-row
    /// `VALUES` list, numbered from 1 (see [`Store::placeholders`]).
    pub(crate) fn values_rows(&self, rows: usize, width: usize) -> String {
        (0..rows)
            .map(|r| format!("({})", self.placeholders(r * width + 1, width)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The pool for read-only lookups that must not wait for writers.
    pub(crate) fn reader(&self) -> &AnyPool {
        &self.read_pool
    }

    async fn migrate(&self) -> StoreResult<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for modules that need a transaction spanning tables.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Takes the deployment-wide compile lease: while it is held no other
    /// process on this database (another replica, `ledcast-server apply`)
    /// reads inputs for a compile or stores rotations through
    /// `recompile`, so a compile that read older inputs can never store
    /// after one that read newer ones (issue 21: two replicas lost an
    /// alert that way). On PostgreSQL it is a session advisory lock keyed
    /// by the schema, held on one pooled connection; on SQLite (one
    /// server per file) it is a no-op and the caller's in-process lock is
    /// the whole story.
    pub async fn compile_lease(&self) -> StoreResult<CompileLease> {
        match self.backend {
            Backend::Sqlite => Ok(CompileLease { conn: None }),
            Backend::Postgres => {
                let mut conn = self.pool.acquire().await?;
                sqlx::query(COMPILE_LOCK_SQL).execute(&mut *conn).await?;
                Ok(CompileLease { conn: Some(conn) })
            }
        }
    }

    /// True when a trivial query succeeds (`/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Waits for in-flight queries and closes every connection (SQLite
    /// checkpoints its WAL on the last close).
    pub async fn close(&self) {
        self.read_pool.close().await;
        self.pool.close().await;
    }
}

/// The advisory lock taken by [`Store::compile_lease`]: one key per
/// schema, so that test schemas on one server do not wait for each other.
const COMPILE_LOCK_SQL: &str =
    "SELECT pg_advisory_lock(hashtext('ledcast.compile.' || current_schema()))";

/// A held compile lease ([`Store::compile_lease`]). Give it back with
/// [`CompileLease::release`]; dropped instead (a cancelled request), its
/// connection is closed, which ends the session and so the lock.
pub struct CompileLease {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
}

impl CompileLease {
    /// Releases the lease, returning its connection to the pool.
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query(
                "SELECT pg_advisory_unlock(hashtext('ledcast.compile.' || current_schema()))",
            )
            .execute(&mut *conn)
            .await;
            if unlocked.is_err() {
                drop(conn.detach());
            }
        }
    }
}

impl Drop for CompileLease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

/// Maps a unique-key violation to `Conflict { what }`, anything else to `Database`.
pub(crate) fn conflict_or(error: sqlx::Error, what: impl Into<String>) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        if db.is_unique_violation() {
            return StoreError::Conflict { what: what.into() };
        }
    }
    StoreError::Database(error)
}

pub(crate) fn bool_i64(value: bool) -> i64 {
    i64::from(value)
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
