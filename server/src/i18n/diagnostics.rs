//! Compiler diagnostics said in the user's language. A diagnostic with a
//! message key ([`ledcast_compiler::MessageKey`]) becomes the catalogue's
//! `diag_{key}` sentence (and `diag_{key}_hint`), its `{name}` placeholders
//! filled from the key's values, after the entity it is about
//! (`diag_owner_{owner_kind}`). A hint the catalogue lacks is said from the
//! suggestion values (`diag_did_you_mean`, `diag_known`) when there are
//! some, else it stays the compiler's English; a key the catalogue lacks
//! keeps the compiler's English message. The file and line stay beside it.
//!
//! It also orders them for the playlist builder: the diagnostics of the
//! file the user is editing first, then the others.
//!
//! It does not decide what is wrong (the compiler does) and holds no words
//! itself: every word is in `server/locales/`.

use ledcast_compiler::{Diagnostic, MessageKey};
use serde_json::{json, Value};

use super::Lang;

/// A diagnostic said in `lang`: the sentence and the hint.
pub fn said(lang: Lang, diagnostic: &Diagnostic) -> (String, Option<String>) {
    let Some(keyed) = &diagnostic.keyed else {
        return (diagnostic.message.clone(), diagnostic.hint.clone());
    };
    let Some(sentence) = known(lang, &format!("diag_{}", keyed.key)) else {
        return (diagnostic.message.clone(), diagnostic.hint.clone());
    };
    let mut text = fill(lang, sentence, keyed);
    if let Some(kind) = keyed.params.get("owner_kind") {
        if let Some(owner) = known(lang, &format!("diag_owner_{kind}")) {
            text = format!("{}{text}", fill(lang, owner, keyed));
        }
    }
    let hint = known(lang, &format!("diag_{}_hint", keyed.key))
        .or_else(|| {
            keyed
                .params
                .contains_key("did_you_mean")
                .then(|| lang.text("diag_did_you_mean"))
        })
        .or_else(|| {
            keyed
                .params
                .contains_key("known")
                .then(|| lang.text("diag_known"))
        })
        .map(|hint| fill(lang, hint, keyed))
        .or_else(|| diagnostic.hint.clone());
    (text, hint)
}

/// The catalogue's `diag_{key}` in `lang`, its `{name}` placeholders filled
/// from `params` as a diagnostic's values are (a `{why}` beside a
/// `why_key` is said by `diag_why_{why_key}`); `None` when the catalogue
/// lacks the key. For the same sentences outside a compile (the material
/// page, the upload's answer).
pub fn said_key(lang: Lang, key: &str, params: &[(&str, String)]) -> Option<String> {
    let sentence = known(lang, &format!("diag_{key}"))?;
    let keyed = MessageKey {
        key: key.to_owned(),
        params: params
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    };
    Some(fill(lang, sentence, &keyed))
}

/// Diagnostics as the playlist builder shows them: each with `text` and
/// `hint_text` in `lang`, `where` (`file:line:column`) and `own` (in
/// `own_file`), the own file's first, each group in the compiler's order.
pub fn for_builder(lang: Lang, diagnostics: &[Diagnostic], own_file: Option<&str>) -> Vec<Value> {
    let own = |d: &Diagnostic| own_file.is_some_and(|f| d.location.file == f);
    let mut ordered: Vec<&Diagnostic> = diagnostics.iter().filter(|d| own(d)).collect();
    ordered.extend(diagnostics.iter().filter(|d| !own(d)));
    ordered
        .into_iter()
        .map(|d| {
            let (text, hint) = said(lang, d);
            let mut value = serde_json::to_value(d).unwrap_or_else(|_| json!({}));
            if let Value::Object(map) = &mut value {
                map.insert("text".into(), json!(text));
                map.insert("hint_text".into(), json!(hint));
                map.insert("where".into(), json!(d.location.to_string()));
                map.insert("own".into(), json!(own(d)));
            }
            value
        })
        .collect()
}

/// The catalogue's text for `key`, if it has one.
fn known(lang: Lang, key: &str) -> Option<&'static str> {
    lang.catalogue().get(key).map(String::as_str)
}

/// `template` with every `{name}` replaced by the key's value. A `{kind}`
/// (a kind of entity) is said in words (`diag_kind_{kind}`); a `{name}`
/// whose key also has a `name_key` value (`why_key = "poster_on_scroller"`)
/// is said by the catalogue's `diag_{name}_{value}`, filled the same way.
fn fill(lang: Lang, template: &str, keyed: &MessageKey) -> String {
    let mut text = template.to_owned();
    for (name, value) in &keyed.params {
        let said = keyed
            .params
            .get(&format!("{name}_key"))
            .and_then(|part| known(lang, &format!("diag_{name}_{part}")))
            .map(|part| fill(lang, part, &without(keyed, name)));
        let value = match name.as_str() {
            "kind" | "owner_kind" => known(lang, &format!("diag_kind_{value}")).unwrap_or(value),
            _ => said.as_deref().unwrap_or(value),
        };
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// The key's values without `name` and `name_key` (what the sentence
/// that says `name` may itself name).
fn without(keyed: &MessageKey, name: &str) -> MessageKey {
    let mut params = keyed.params.clone();
    params.remove(name);
    params.remove(&format!("{name}_key"));
    MessageKey {
        key: keyed.key.clone(),
        params,
    }
}
