//! Fleet presence routes: screens offline too long (alerts visible through the API).
//!
//! An alert is computed from the last recorded presence, not stored: a screen
//! whose state is `offline` since longer than `mqtt.offline_alert_seconds`
//! is listed, and drops off the list as soon as it reports `online` again.

use aide::axum::routing::get;
use axum::extract::State;
use axum::http::Method;
use axum::Json;
use serde::Serialize;

use super::{route, Access, ApiError, AppState, Principal, Route};
use crate::config::Config;

/// This area's routes (merged into [`super::api_routes`]).
pub(crate) fn routes(_config: &Config) -> Vec<Route> {
    vec![route(
        Method::GET,
        "/api/v1/fleet/alerts",
        "screens offline longer than mqtt.offline_alert_seconds (branch users: their sites)",
        Access::SiteScoped,
        get(fleet_alerts),
    )]
}

/// `GET /api/v1/fleet/alerts`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FleetAlerts {
    /// How long a screen may be offline before it is listed.
    pub offline_alert_seconds: u64,
    /// The screens offline longer, longest first.
    pub alerts: Vec<FleetAlert>,
}

/// One screen offline too long.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FleetAlert {
    /// Always `screen_offline`.
    pub kind: String,
    /// The screen.
    pub screen_id: String,
    /// Its site.
    pub site_id: String,
    /// Its name.
    pub screen_name: String,
    /// Since when (ms since the epoch).
    pub offline_since: i64,
    /// For how long.
    pub offline_for_seconds: i64,
}

/// `GET /api/v1/fleet/alerts`: screens offline too long, longest first.
pub async fn fleet_alerts(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<FleetAlerts>, ApiError> {
    let threshold_s = state.config.mqtt.offline_alert_seconds;
    let now = state.clock.now().as_millis();
    let threshold_ms = i64::try_from(threshold_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let offline = state
        .store
        .offline_screens(now.saturating_sub(threshold_ms), principal.site_filter())
        .await?;
    let alerts: Vec<_> = offline
        .into_iter()
        .map(|screen| FleetAlert {
            kind: "screen_offline".to_owned(),
            offline_for_seconds: (now - screen.offline_since).max(0) / 1000,
            screen_id: screen.screen_id,
            site_id: screen.site_id,
            screen_name: screen.name,
            offline_since: screen.offline_since,
        })
        .collect();
    Ok(Json(FleetAlerts {
        offline_alert_seconds: threshold_s,
        alerts,
    }))
}

/// This area's rows of the route × role matrix test.
#[cfg(test)]
pub(crate) fn matrix_rows() -> Vec<super::tests::MatrixRow> {
    vec![(
        "GET",
        "/api/v1/fleet/alerts",
        "/api/v1/fleet/alerts",
        super::tests::Rule::SiteList,
    )]
}

#[cfg(test)]
mod tests {

    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use ledcast_protocol::v1 as protocol;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::store::testing::backends;
    use crate::store::{ProfileRow, Role, ScreenRow, SiteRow, Store};

    fn agent_state(screen: &str, status: protocol::Presence) -> protocol::AgentState {
        protocol::AgentState {
            screen_id: protocol::ScreenId::new(screen).unwrap(),
            boot_id: protocol::BootId::new("boot-1").unwrap(),
            status,
            reported_at: protocol::Timestamp(5),
            rotation_version: None,
            pending_version: None,
            now_playing: None,
            stale: false,
            cache: protocol::CacheStatus {
                items: 0,
                bytes: 0,
                missing: 0,
            },
            journal_pending: 0,
            journal_alarm: false,
            last_error: None,
            warnings: vec![],
            agent_version: "0.1.0".to_owned(),
            bridge: None,
            connected_at: None,
            clock_suspect: false,
            display_missing: false,
        }
    }

    async fn seed(store: &Store) {
        store
            .upsert_profile(&ProfileRow {
                id: "door".into(),
                width: 352,
                height: 80,
                color_class: "mono".into(),
                can_play_video: false,
                can_scroll: true,
            })
            .await
            .unwrap();
        for (screen, site) in [
            ("screen-a", "site-a"),
            ("screen-a2", "site-a"),
            ("screen-b", "site-b"),
        ] {
            store
                .upsert_site(
                    &SiteRow {
                        id: site.into(),
                        organisation_id: "bank".into(),
                        name: site.into(),
                    },
                    1,
                )
                .await
                .unwrap();
            store
                .upsert_screen(
                    &ScreenRow {
                        id: screen.into(),
                        site_id: site.into(),
                        name: format!("{screen} name"),
                        profile_id: "door".into(),
                        tags: vec![],
                        timezone: "Asia/Shanghai".into(),
                        opening_hours: String::new(),
                    },
                    1,
                )
                .await
                .unwrap();
        }
        crate::http::tests::add_users(
            store,
            &[
                ("admin", Role::Admin, vec![]),
                ("branch-a", Role::Branch, vec!["site-a".to_owned()]),
                ("branch-b", Role::Branch, vec!["site-b".to_owned()]),
            ],
        )
        .await;
    }

    async fn alerts(state: &AppState, actor: &str) -> Value {
        let request = Request::builder()
            .uri("/api/v1/fleet/alerts")
            .header(header::AUTHORIZATION, format!("Bearer token-{actor}"))
            .body(Body::empty())
            .unwrap();
        let response = crate::router::app(state.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn listed(body: &Value) -> Vec<String> {
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["screen_id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn long_offline_screens_raise_site_scoped_alerts_that_clear_on_return() {
        use protocol::Presence::{Offline, Online};
        for db in backends().await {
            let dir = tempfile::tempdir().unwrap();
            let state = crate::http::tests::test_state(&db.store, dir.path()).await;
            assert_eq!(
                state.config.mqtt.offline_alert_seconds, 600,
                "the default this test reads"
            );
            let store = &state.store;
            seed(store).await;
            let now = state.clock.now();
            let minutes_ago = |m: i64| protocol::Timestamp(now.as_millis() - m * 60_000);
            // a: offline for 25 min; a2: offline 2 min (under the threshold);
            // b: offline 40 min. All were online before.
            for (screen, went_offline) in [("screen-a", 25), ("screen-a2", 2), ("screen-b", 40)] {
                store
                    .record_agent_state(
                        screen,
                        &agent_state(screen, Online),
                        minutes_ago(went_offline + 60),
                    )
                    .await
                    .unwrap();
                store
                    .record_agent_state(
                        screen,
                        &agent_state(screen, Offline),
                        minutes_ago(went_offline),
                    )
                    .await
                    .unwrap();
            }

            let admin = alerts(&state, "admin").await;
            assert_eq!(admin["offline_alert_seconds"], 600);
            assert_eq!(
                listed(&admin),
                ["screen-b", "screen-a"],
                "{}: longest offline first, the 2-minute outage is not an alert yet",
                db.name
            );
            let b = &admin["alerts"][0];
            assert_eq!(b["kind"], "screen_offline");
            assert_eq!(b["site_id"], "site-b");
            assert_eq!(b["offline_since"], minutes_ago(40).as_millis());
            let for_s = b["offline_for_seconds"].as_i64().unwrap();
            assert!((40 * 60..40 * 60 + 30).contains(&for_s), "{for_s}");

            assert_eq!(listed(&alerts(&state, "branch-a").await), ["screen-a"]);
            assert_eq!(listed(&alerts(&state, "branch-b").await), ["screen-b"]);

            // screen-a comes back: its alert clears.
            store
                .record_agent_state("screen-a", &agent_state("screen-a", Online), now)
                .await
                .unwrap();
            assert_eq!(listed(&alerts(&state, "admin").await), ["screen-b"]);
            assert!(listed(&alerts(&state, "branch-a").await).is_empty());
            db.finish().await;
        }
    }
}
