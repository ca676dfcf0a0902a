//! Test databases: SQLite always, PostgreSQL when `LEDCAST_TEST_DATABASE_URL`
//! is set (then an unreachable server is a failure, not a skip). Each
//! PostgreSQL test gets a fresh schema, dropped by [`TestDb::finish`].

use sqlx::Executor;

use super::Store;

/// One test database.
pub(crate) struct TestDb {
    /// The store under test.
    pub store: Store,
    /// `sqlite` or `postgres`, for assertion messages.
    pub name: &'static str,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// The environment variable naming the PostgreSQL test server.
pub(crate) const PG_ENV: &str = "LEDCAST_TEST_DATABASE_URL";

/// A SQLite store in a temp dir, plus a PostgreSQL one when configured.
pub(crate) async fn backends() -> Vec<TestDb> {
    let mut out = vec![sqlite().await];
    if let Ok(url) = std::env::var(PG_ENV) {
        out.push(postgres(&url).await);
    }
    out
}

/// A SQLite store in a temp dir.
pub(crate) async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    TestDb {
        store: Store::connect(&url, None).await.unwrap(),
        name: "sqlite",
        postgres: None,
        _dir: Some(dir),
    }
}

async fn postgres(url: &str) -> TestDb {
    let schema = create_schema(url).await;
    let store = Store::connect(url, Some(&schema))
        .await
        .unwrap_or_else(|e| panic!("migrating PostgreSQL test schema {schema}: {e}"));
    TestDb {
        store,
        name: "postgres",
        postgres: Some((url.to_owned(), schema)),
        _dir: None,
    }
}

/// Creates a schema with a random name on the PostgreSQL server at `url`.
async fn create_schema(url: &str) -> String {
    sqlx::any::install_default_drivers();
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).unwrap();
    let schema = format!("ledcast_test_{}", hex::encode(random));
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV}={url} is set but PostgreSQL is unreachable: {e}"));
    admin
        .execute(format!("CREATE SCHEMA \"{schema}\"").as_str())
        .await
        .unwrap();
    schema
}

/// A fresh schema on the PostgreSQL test server at `url`, and a future
/// that drops it (for tests that open stores themselves, e.g. by URL).
pub(crate) async fn fresh_schema(url: &str) -> (String, impl std::future::Future<Output = ()>) {
    let schema = create_schema(url).await;
    let url = url.to_owned();
    let dropped = schema.clone();
    (schema, async move {
        let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        admin
            .execute(format!("DROP SCHEMA \"{dropped}\" CASCADE").as_str())
            .await
            .unwrap();
    })
}

impl TestDb {
    /// A second store on the same PostgreSQL schema, as another server
    /// replica would open it; `None` on SQLite (one server per file).
    pub async fn another_replica(&self) -> Option<Store> {
        let (url, schema) = self.postgres.as_ref()?;
        Some(Store::connect(url, Some(schema)).await.unwrap())
    }

    /// Closes the store and drops the PostgreSQL schema.
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((url, schema)) = self.postgres {
            let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            admin
                .execute(format!("DROP SCHEMA \"{schema}\" CASCADE").as_str())
                .await
                .unwrap();
        }
    }
}
