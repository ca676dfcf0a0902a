//! The domain's words as types: a material's kind and approval state, a
//! schedule's and an edition's state, an approver's verdict, a branch's
//! weekly confirmation verdict and a screen's presence.
//! Each is decoded once, where a row is read ([`decode`]: a word the column
//! should not hold is [`StoreError::Corrupt`], never a default), written
//! back and serialised as the same lowercase word, so the JSON API, the
//! templates and the tables keep their strings.
//!
//! It does not decide what a state allows; the operations do.

use ledcast_protocol::v1 as protocol;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{StoreError, StoreResult};

/// A material's kind: the compiler's own enum (`poster`, `video`, `text`),
/// so the catalog needs no second mapping.
pub use ledcast_compiler::MaterialKind;

/// A material's approval state.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MaterialState {
    /// Uploaded, waiting for a second person.
    Pending,
    /// Approved: may go on air.
    Approved,
    /// Rejected by an approver.
    Rejected,
    /// Taken out of every future rotation.
    Retired,
}

/// A schedule's approval state (its current version's).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleState {
    /// Applied, waiting for a second person.
    Pending,
    /// Approved: this version is on air.
    Approved,
    /// Rejected: the version approved before (if any) stays on air.
    Rejected,
}

/// A library edition's state.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EditionState {
    /// Imported, waiting for approval.
    Pending,
    /// The edition on air.
    Current,
    /// Replaced by a later edition.
    Superseded,
}

/// What an approver decided about a pending material or schedule; its
/// word is the state it leads to (`approved`, `rejected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Approve it.
    Approved,
    /// Reject it.
    Rejected,
}

impl Verdict {
    /// The material state it leads to.
    pub fn material_state(self) -> MaterialState {
        match self {
            Self::Approved => MaterialState::Approved,
            Self::Rejected => MaterialState::Rejected,
        }
    }

    /// The schedule state it leads to.
    pub fn schedule_state(self) -> ScheduleState {
        match self {
            Self::Approved => ScheduleState::Approved,
            Self::Rejected => ScheduleState::Rejected,
        }
    }

    /// Its word, as in audit actions (`material.approved`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// What a branch confirmed about a screen's week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BranchVerdict {
    /// The warnings were shown as required.
    Ok,
    /// Something was wrong (the note says what).
    Problem,
}

impl StoredWord for BranchVerdict {
    const ALL: &'static [Self] = &[Self::Ok, Self::Problem];

    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Problem => "problem",
        }
    }
}

impl BranchVerdict {
    /// The stored word (also [`StoredWord::as_str`]).
    pub fn as_str(self) -> &'static str {
        StoredWord::as_str(self)
    }
}

/// A screen's presence as the server knows it: what its last state report
/// said, or `never` when it has not reported yet. Not the wire's
/// `protocol::Presence`, which has no "never".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScreenPresence {
    /// Its last report said online.
    Online,
    /// Its last report said offline (a Last Will or a shutdown).
    Offline,
    /// No report yet. Never stored: a screen that has reported has a row.
    Never,
}

impl StoredWord for ScreenPresence {
    const ALL: &'static [Self] = &[Self::Online, Self::Offline, Self::Never];

    fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Never => "never",
        }
    }
}

impl ScreenPresence {
    /// The words a stored report can hold (`screen_state.status`,
    /// `presence_events.status`): not `never`.
    pub(crate) const REPORTED: &'static [Self] = &[Self::Online, Self::Offline];

    /// The stored word (also [`StoredWord::as_str`]).
    pub fn as_str(self) -> &'static str {
        StoredWord::as_str(self)
    }
}

impl From<protocol::Presence> for ScreenPresence {
    fn from(presence: protocol::Presence) -> Self {
        match presence {
            protocol::Presence::Online => Self::Online,
            protocol::Presence::Offline => Self::Offline,
        }
    }
}

/// A word stored in a column: every value, and the word for each.
pub trait StoredWord: Sized + Copy + 'static {
    /// Every value, in a stable order.
    const ALL: &'static [Self];

    /// The stored (and serialised) word.
    fn as_str(self) -> &'static str;

    /// The value a stored or typed word names.
    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == text)
    }
}

impl StoredWord for MaterialKind {
    const ALL: &'static [Self] = &[Self::Poster, Self::Video, Self::Text];

    fn as_str(self) -> &'static str {
        match self {
            Self::Poster => "poster",
            Self::Video => "video",
            Self::Text => "text",
        }
    }
}

impl StoredWord for MaterialState {
    const ALL: &'static [Self] = &[Self::Pending, Self::Approved, Self::Rejected, Self::Retired];

    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Retired => "retired",
        }
    }
}

impl StoredWord for ScheduleState {
    const ALL: &'static [Self] = &[Self::Pending, Self::Approved, Self::Rejected];

    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

impl StoredWord for EditionState {
    const ALL: &'static [Self] = &[Self::Pending, Self::Current, Self::Superseded];

    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Current => "current",
            Self::Superseded => "superseded",
        }
    }
}

impl ScheduleState {
    /// The stored word (also [`StoredWord::as_str`]).
    pub fn as_str(self) -> &'static str {
        StoredWord::as_str(self)
    }
}

impl EditionState {
    /// The stored word (also [`StoredWord::as_str`]).
    pub fn as_str(self) -> &'static str {
        StoredWord::as_str(self)
    }
}

impl MaterialState {
    /// The stored word (also [`StoredWord::as_str`]).
    pub fn as_str(self) -> &'static str {
        StoredWord::as_str(self)
    }

    /// Whether the material may reach a catalog (and an alert): not
    /// rejected, not retired.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Approved)
    }
}

/// Reads `column` of `row` (the row `key` of `table`) as a `T`; a word
/// that names no value is [`StoreError::Corrupt`], naming the table, the
/// row, the column and the word.
pub(crate) fn decode<T: StoredWord>(
    row: &sqlx::any::AnyRow,
    table: &'static str,
    key: &str,
    column: &'static str,
) -> StoreResult<T> {
    let text: String = row.try_get(column)?;
    decode_among(&text, T::ALL, table, key, column)
}

/// `text`, read from `column` of the row `key` of `table`, as one of
/// `allowed`; any other word (one of `T`'s that this column never holds
/// included) is [`StoreError::Corrupt`], naming the table, the row, the
/// column and the word.
pub(crate) fn decode_among<T: StoredWord>(
    text: &str,
    allowed: &[T],
    table: &'static str,
    key: &str,
    column: &'static str,
) -> StoreResult<T> {
    allowed
        .iter()
        .copied()
        .find(|value| value.as_str() == text)
        .ok_or_else(|| StoreError::Corrupt {
            table,
            detail: format!(
                "row {key:?} has {column} {text:?}, which is none of {}",
                allowed
                    .iter()
                    .map(|value| value.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}
