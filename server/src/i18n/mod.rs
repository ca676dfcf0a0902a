//! The one place words come from: `server/locales/{zh-CN,en}.toml`, flat
//! `key = "text"` tables embedded in the binary and parsed once. Templates
//! read them as `t.key`; the page's JavaScript gets the `js_*` keys as a
//! JSON data block; the compliance reports use the `report_*` keys; compiler
//! diagnostics and the checks beside them are said by [`diagnostics`].
//!
//! A bottom module: the web UI, the reports and the domain checks all read
//! it, and it knows none of them. It does not do plurals or argument
//! interpolation beyond `{name}` placeholders.

pub mod diagnostics;

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

    /// A report's `lang` query value: `en` (or `en-*`) is English, anything
    /// else zh-CN.
    pub fn parse(text: Option<&str>) -> Lang {
        match text {
            Some(t)
                if t.eq_ignore_ascii_case("en") || t.to_ascii_lowercase().starts_with("en-") =>
            {
                Lang::En
            }
            _ => Lang::ZhCn,
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

/// The cookie that keeps a user's language.
pub const LANG_COOKIE: &str = "ledcast_lang";

/// The language a request asked for (cookie), zh-CN by default.
pub fn language(headers: &axum::http::HeaderMap) -> Lang {
    axum_extra::extract::cookie::CookieJar::from_headers(headers)
        .get(LANG_COOKIE)
        .and_then(|cookie| Lang::from_tag(cookie.value()))
        .unwrap_or(Lang::ZhCn)
}

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

    /// The message for `key`, in English when this language lacks it (the
    /// key itself when both do).
    pub fn text_or_english(self, key: &str) -> &str {
        self.catalogue()
            .get(key)
            .or_else(|| Lang::En.catalogue().get(key))
            .map(String::as_str)
            .unwrap_or(key)
    }
}
