//! Enrollment codes and device keys: what a screen proves itself with, and
//! the broker logins derived from them.
//!
//! Enrollment codes and broker passwords arrive hashed.

use serde::Serialize;
use sqlx::Row;

use crate::store::{Store, StoreResult};

/// The device key of an enrolled screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DeviceKeyRow {
    /// The screen.
    pub screen_id: String,
    /// Key id (`ed25519:…`).
    pub key_id: String,
    /// Public key, 64 hex digits.
    pub public_key_hex: String,
    /// Broker user name given to the device.
    pub broker_username: String,
    /// SHA-256 (hex) of the broker password given to the device.
    #[serde(skip)]
    pub broker_password_sha256: String,
    /// Enrollment instant (ms).
    pub enrolled_at: i64,
}

/// A device key to record at enrollment.
#[derive(Debug, Clone)]
pub struct NewDeviceKey<'a> {
    /// The screen.
    pub screen_id: &'a str,
    /// Key id.
    pub key_id: &'a str,
    /// Public key hex.
    pub public_key_hex: &'a str,
    /// Broker user name.
    pub broker_username: &'a str,
    /// SHA-256 hex of the broker password.
    pub broker_password_sha256: &'a str,
    /// The same password as a Mosquitto `$6$` hash (password file).
    pub broker_password_mosquitto: Option<&'a str>,
}

/// A live device's Mosquitto login (`broker-config mosquitto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerLoginRow {
    /// The screen.
    pub screen_id: String,
    /// Broker user name (`screen-{id}`).
    pub broker_username: String,
    /// Mosquitto `$6$` hash; `None` for devices enrolled before it was kept.
    pub password_mosquitto: Option<String>,
}

impl Store {
    /// Stores a new enrollment code (hashed).
    pub async fn create_enrollment_code(
        &self,
        code_sha256: &str,
        screen_id: &str,
        created_by: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO enrollment_codes (code_sha256, screen_id, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code_sha256)
        .bind(screen_id)
        .bind(created_by)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Enrollment codes created for a screen since `since` (throttle).
    pub async fn count_enrollment_codes(&self, screen_id: &str, since: i64) -> StoreResult<u64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM enrollment_codes WHERE screen_id = $1 AND created_at > $2",
        )
        .bind(screen_id)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(crate::store::to_u64(row.try_get("n")?))
    }

    /// Redeems a code: in one transaction, marks it used (only if unused and
    /// unexpired), revokes the screen's previous device keys and records the
    /// new one. Returns the screen id, or `None` when the code is unknown,
    /// used or expired.
    pub async fn redeem_enrollment_code(
        &self,
        code_sha256: &str,
        now: i64,
        key: impl FnOnce(&str) -> (String, String, String, String),
    ) -> StoreResult<Option<String>> {
        self.redeem_enrollment(code_sha256, now, |screen_id| {
            let (key_id, public_key_hex, broker_username, broker_password_sha256) = key(screen_id);
            (
                key_id,
                public_key_hex,
                broker_username,
                broker_password_sha256,
                None,
            )
        })
        .await
    }

    /// [`Store::redeem_enrollment_code`], also recording the broker
    /// password's Mosquitto hash (the fifth element).
    #[allow(clippy::type_complexity)]
    pub async fn redeem_enrollment(
        &self,
        code_sha256: &str,
        now: i64,
        key: impl FnOnce(&str) -> (String, String, String, String, Option<String>),
    ) -> StoreResult<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE enrollment_codes SET used_at = $1 \
             WHERE code_sha256 = $2 AND used_at IS NULL AND expires_at > $1 RETURNING screen_id",
        )
        .bind(now)
        .bind(code_sha256)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let screen_id: String = row.try_get("screen_id")?;
        let (key_id, public_key_hex, broker_username, broker_password_sha256, mosquitto) =
            key(&screen_id);
        sqlx::query(
            "UPDATE device_keys SET revoked_at = $1 WHERE screen_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&screen_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO device_keys (key_id, screen_id, public_key_hex, broker_username, \
             broker_password_sha256, broker_password_mosquitto, enrolled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key_id)
        .bind(&screen_id)
        .bind(&public_key_hex)
        .bind(&broker_username)
        .bind(&broker_password_sha256)
        .bind(mosquitto)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(screen_id))
    }

    /// Records a device key directly (tests, the demo).
    pub async fn insert_device_key(&self, key: NewDeviceKey<'_>, now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE device_keys SET revoked_at = $1 WHERE screen_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(key.screen_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO device_keys (key_id, screen_id, public_key_hex, broker_username, \
             broker_password_sha256, broker_password_mosquitto, enrolled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.key_id)
        .bind(key.screen_id)
        .bind(key.public_key_hex)
        .bind(key.broker_username)
        .bind(key.broker_password_sha256)
        .bind(key.broker_password_mosquitto)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The screen's current (unrevoked) device key, or `None` when it is not
    /// enrolled or its key was revoked.
    pub async fn device_key(&self, screen_id: &str) -> StoreResult<Option<DeviceKeyRow>> {
        let row = sqlx::query(
            "SELECT * FROM device_keys WHERE screen_id = $1 AND revoked_at IS NULL \
             ORDER BY enrolled_at DESC LIMIT 1",
        )
        .bind(screen_id)
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| {
            Ok(DeviceKeyRow {
                screen_id: r.try_get("screen_id")?,
                key_id: r.try_get("key_id")?,
                public_key_hex: r.try_get("public_key_hex")?,
                broker_username: r.try_get("broker_username")?,
                broker_password_sha256: r.try_get("broker_password_sha256")?,
                enrolled_at: r.try_get("enrolled_at")?,
            })
        })
        .transpose()
    }

    /// The current device public key (64 hex digits) of a screen, or `None`.
    pub async fn device_public_key_hex(&self, screen_id: &str) -> StoreResult<Option<String>> {
        Ok(self.device_key(screen_id).await?.map(|k| k.public_key_hex))
    }

    /// Every live (unrevoked) device's broker login, by screen id. Revoked
    /// keys are left out, so re-enrollment drops the old password.
    pub async fn live_broker_logins(&self) -> StoreResult<Vec<BrokerLoginRow>> {
        let rows = sqlx::query(
            "SELECT screen_id, broker_username, broker_password_mosquitto FROM device_keys \
             WHERE revoked_at IS NULL ORDER BY screen_id, enrolled_at",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut logins: Vec<BrokerLoginRow> = Vec::with_capacity(rows.len());
        for r in &rows {
            let login = BrokerLoginRow {
                screen_id: r.try_get("screen_id")?,
                broker_username: r.try_get("broker_username")?,
                password_mosquitto: r.try_get("broker_password_mosquitto")?,
            };
            // One live key per screen; should two exist, the newest wins.
            match logins.last_mut() {
                Some(last) if last.screen_id == login.screen_id => *last = login,
                _ => logins.push(login),
            }
        }
        Ok(logins)
    }

    /// The current device public keys (hex) of several screens in one
    /// query: `screen id -> key`; screens without a live key are missing.
    pub async fn device_public_keys_hex(
        &self,
        screen_ids: &[&str],
    ) -> StoreResult<std::collections::HashMap<String, String>> {
        let mut out = std::collections::HashMap::new();
        for chunk in screen_ids.chunks(500) {
            let sql = format!(
                "SELECT screen_id, public_key_hex FROM device_keys WHERE revoked_at IS NULL \
                 AND screen_id IN ({}) ORDER BY enrolled_at",
                self.placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            // Newest last, so it wins should two live keys exist.
            for row in query.fetch_all(self.reader()).await? {
                out.insert(row.try_get("screen_id")?, row.try_get("public_key_hex")?);
            }
        }
        Ok(out)
    }

    /// The live device key holding broker user name `username` (broker auth).
    pub async fn device_by_broker_username(
        &self,
        username: &str,
    ) -> StoreResult<Option<DeviceKeyRow>> {
        let row = sqlx::query(
            "SELECT screen_id FROM device_keys WHERE broker_username = $1 AND revoked_at IS NULL \
             ORDER BY enrolled_at DESC LIMIT 1",
        )
        .bind(username)
        .fetch_optional(self.reader())
        .await?;
        match row {
            Some(r) => self.device_key(&r.try_get::<String, _>("screen_id")?).await,
            None => Ok(None),
        }
    }
}
