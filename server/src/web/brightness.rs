//! The brightness schedule a screen follows (issue 22, item 4), for its page:
//! the screen's own `brightness`, else its profile's, read from the stored
//! playlist files by the compiler (the one reader of that language). It
//! shows what the next compile puts into rotations; the schedule words
//! themselves are in the message catalogues (`screen_brightness_*`).

use ledcast_compiler as compiler;
use serde_json::{json, Value};

use crate::http::{ApiError, AppState};
use crate::store::ScreenRow;

/// `{day, night, night_hours, off_hours}` for the template, or `None`
/// when the screen is at full brightness around the clock.
pub async fn of_screen(state: &AppState, screen: &ScreenRow) -> Result<Option<Value>, ApiError> {
    let model = crate::applied::as_written(state).await?;
    let schedule = match model.screen(&screen.id) {
        Some(s) => model.brightness_of(s),
        None => model
            .profiles
            .iter()
            .find(|p| p.id == screen.profile_id)
            .and_then(|p| p.brightness.as_ref()),
    };
    Ok(schedule.map(|b| {
        json!({
            "day": b.day_percent,
            "night": b.night_percent,
            "night_hours": compiler::brightness::hours_text(&b.night_hours),
            "off_hours": compiler::brightness::hours_text(&b.off_hours),
        })
    }))
}
