//! Library editions as the catalog sees them: which is current, which
//! were superseded and when, and the one being approved.

use std::collections::BTreeMap;

use crate::state::AppState;

/// The edition a material came in, from its `edition:{id}` tag.
pub fn edition_of(tags: &[String]) -> Option<String> {
    tags.iter()
        .find_map(|t| t.strip_prefix("edition:"))
        .map(str::to_owned)
}

/// How library editions shape the compiler's catalog: which edition is
/// current (`edition = "current"` items), which were superseded and when
/// (their materials retire then, everywhere: the catalog ends their
/// validity at that instant), and — for the diff before an approval — an
/// edition whose pending materials count as approved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EditionView {
    /// The current edition.
    pub current: Option<String>,
    /// Superseded editions and when they were superseded (ms).
    pub superseded: BTreeMap<String, i64>,
    /// An edition whose pending materials are treated as approved.
    pub approving: Option<String>,
}

impl EditionView {
    /// The editions as stored.
    pub async fn stored(state: &AppState) -> anyhow::Result<EditionView> {
        let mut view = EditionView::default();
        for e in state.store.list_editions().await? {
            match e.state {
                crate::store::EditionState::Current => view.current = Some(e.id),
                crate::store::EditionState::Superseded => {
                    view.superseded
                        .insert(e.id, e.superseded_at.unwrap_or(i64::MIN));
                }
                crate::store::EditionState::Pending => {}
            }
        }
        Ok(view)
    }

    /// The view after approving `edition` at `now` (nothing stored).
    pub fn approving(mut self, edition: &str, now: i64) -> EditionView {
        if let Some(previous) = self.current.take().filter(|c| c != edition) {
            self.superseded.insert(previous, now);
        }
        self.superseded.remove(edition);
        self.current = Some(edition.to_owned());
        self.approving = Some(edition.to_owned());
        self
    }

    /// Whether the compiler may use `m` (approved, or pending in the
    /// edition being approved).
    pub fn approved(&self, m: &crate::store::MaterialRow) -> bool {
        m.state == crate::store::MaterialState::Approved
            || (m.state == crate::store::MaterialState::Pending
                && self.approving.is_some()
                && edition_of(&m.tags) == self.approving
                && m.source == *self.approving.as_deref().unwrap_or_default())
    }

    /// `m`'s end of validity: its `valid_until`, or when its edition was
    /// superseded if that is earlier.
    pub fn valid_until(&self, m: &crate::store::MaterialRow) -> Option<i64> {
        let superseded = edition_of(&m.tags).and_then(|e| self.superseded.get(&e).copied());
        match (m.valid_until, superseded) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
