//! The two-person rule: whoever submitted something for approval (uploaded
//! a material, applied a schedule's version, imported a library edition)
//! may not approve or reject it; another approver decides. Every approval
//! route and the demo's approvals go through [`two_person_rule`].

/// What waits for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    /// An uploaded material.
    Material,
    /// A version of a schedule applied with the playlist files.
    Schedule,
    /// An imported library edition.
    Edition,
}

/// The person deciding is the one who submitted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .0 {
    Submission::Material => "you uploaded this material, so you cannot approve or reject it",
    Submission::Schedule => "you applied this version of the schedule, so you cannot approve or reject it",
    Submission::Edition => "you imported this edition, so you cannot approve it",
})]
pub struct OwnSubmission(pub Submission);

/// Refuses a decision by the submitter (user ids compared).
pub fn two_person_rule(
    what: Submission,
    submitted_by: &str,
    deciding: &str,
) -> Result<(), OwnSubmission> {
    if submitted_by == deciding {
        Err(OwnSubmission(what))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_someone_else_may_decide() {
        assert_eq!(two_person_rule(Submission::Material, "u1", "u2"), Ok(()));
        let refused = two_person_rule(Submission::Edition, "u1", "u1").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "you imported this edition, so you cannot approve it"
        );
    }
}
