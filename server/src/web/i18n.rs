//! Message catalogues: `server/locales/{zh-CN,en}.toml`, flat `key = "text"`
//! tables embedded in the binary and parsed once. Templates read them as
//! `t.key`; the page's JavaScript gets the `js_*` keys as a JSON data block.
//!
//! It does not do plurals or argument interpolation beyond `{name}`
//! placeholders that the JavaScript fills in.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese (the default).
    ZhCn,
    /// English.
    En,
}

/// Name of the cookie that keeps the chosen language.
pub const LANG_COOKIE: &str = "ledcast_lang";

impl Lang {
    /// The BCP 47 tag (`zh-CN`, `en`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language for a tag; `None` for tags the UI does not speak.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        match tag {
            "zh-CN" | "zh" => Some(Lang::ZhCn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The catalogue of this language.
    pub fn catalogue(self) -> &'static Catalogue {
        static ZH: OnceLock<Catalogue> = OnceLock::new();
        static EN: OnceLock<Catalogue> = OnceLock::new();
        match self {
            Lang::ZhCn => ZH.get_or_init(|| parse(ZH_CN_TEXT)),
            Lang::En => EN.get_or_init(|| parse(EN_TEXT)),
        }
    }
}

/// One language's messages by key.
pub type Catalogue = BTreeMap<String, String>;

/// The zh-CN catalogue source.
pub const ZH_CN_TEXT: &str = include_str!("../../locales/zh-CN.toml");
/// The English catalogue source.
pub const EN_TEXT: &str = include_str!("../../locales/en.toml");

fn parse(text: &str) -> Catalogue {
    // The catalogues are part of the binary and checked by the tests; a
    // broken one is a build defect, shown as empty rather than a crash.
    match toml::from_str::<Catalogue>(text) {
        Ok(catalogue) => catalogue,
        Err(error) => {
            tracing::error!(%error, "message catalogue does not parse");
            Catalogue::new()
        }
    }
}

impl Lang {
    /// The message for `key` (the key itself when missing, so a gap shows).
    pub fn text(self, key: &str) -> &str {
        self.catalogue().get(key).map(String::as_str).unwrap_or(key)
    }
}
