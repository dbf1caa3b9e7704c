//! The `.ftl` files of every language, embedded in the binary and parsed once at start-up, and
//! the rendering of one message with a fallback to English.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use unic_langid::LanguageIdentifier;

/// The language every message exists in, and that any other language falls back to.
pub const FALLBACK: &str = "en";

/// One language's `.ftl` files as (file name, content).
pub struct Source {
    pub language: &'static str,
    pub files: &'static [(&'static str, &'static str)],
}

macro_rules! locale_files {
    ($language:literal) => {
        Source {
            language: $language,
            files: &[
                (
                    "main.ftl",
                    include_str!(concat!("../../locales/", $language, "/main.ftl")),
                ),
                (
                    "business.ftl",
                    include_str!(concat!("../../locales/", $language, "/business.ftl")),
                ),
                (
                    "customer.ftl",
                    include_str!(concat!("../../locales/", $language, "/customer.ftl")),
                ),
            ],
        }
    };
}

/// The embedded translations; English first. A new language is one more line here and a copy of
/// `bot/locales/en/` translated.
pub const SOURCES: &[Source] = &[locale_files!("en"), locale_files!("de")];

/// The file names every language folder holds.
pub const FILE_NAMES: &[&str] = &["main.ftl", "business.ftl", "customer.ftl"];

/// One loaded language: its bundle and its variable-free messages rendered once.
pub struct Language {
    pub code: &'static str,
    bundle: FluentBundle<FluentResource>,
    fallback: Option<&'static Language>,
    plain: HashMap<String, &'static str>,
}

impl Language {
    fn load(source: &'static Source, fallback: Option<&'static Language>) -> Self {
        let id: LanguageIdentifier = source.language.parse().unwrap_or_default();
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // Telegram shows the text as it is: bidi isolation marks would only be noise.
        bundle.set_use_isolating(false);
        let mut ids = Vec::new();
        for (file, content) in source.files {
            let resource = match FluentResource::try_new((*content).to_owned()) {
                Ok(resource) => resource,
                Err((resource, errors)) => {
                    for error in errors {
                        tracing::error!(language = source.language, file, %error, "syntax error in a translation file");
                    }
                    resource
                }
            };
            for entry in resource.entries() {
                if let fluent_syntax::ast::Entry::Message(message) = entry {
                    ids.push(message.id.name.to_owned());
                }
            }
            if let Err(errors) = bundle.add_resource(resource) {
                for error in errors {
                    tracing::error!(language = source.language, file, %error, "translation file not loaded whole");
                }
            }
        }
        let mut language = Self {
            code: source.language,
            bundle,
            fallback,
            plain: HashMap::new(),
        };
        for id in ids {
            let Some(pattern) = language.bundle.get_message(&id).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = language.bundle.format_pattern(pattern, None, &mut errors);
            if errors.is_empty() {
                let text: &'static str = Box::leak(text.into_owned().into_boxed_str());
                language.plain.insert(id, text);
            }
        }
        language
    }

    /// A message without variables. Falls back to English, then to the id itself.
    pub fn text(&self, id: &str) -> &'static str {
        if let Some(text) = self.plain.get(id) {
            return text;
        }
        match self.fallback {
            Some(fallback) => fallback.text(id),
            None => {
                report(self.code, id, "no such message without variables");
                Box::leak(id.to_owned().into_boxed_str())
            }
        }
    }

    /// A message with its variables. Falls back to English, then to the id itself; errors are
    /// logged and kept for [`take_render_errors`].
    pub fn format(&self, id: &str, args: &FluentArgs) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            return match self.fallback {
                Some(fallback) => fallback.format(id, args),
                None => {
                    report(self.code, id, "no such message");
                    id.to_owned()
                }
            };
        };
        let mut errors = Vec::new();
        let text = self
            .bundle
            .format_pattern(pattern, Some(args), &mut errors)
            .into_owned();
        for error in errors {
            report(self.code, id, &error.to_string());
        }
        text
    }

    /// Whether this language has the message itself (not through the fallback).
    pub fn has(&self, id: &str) -> bool {
        self.bundle.has_message(id)
    }
}

/// At most this many render errors are kept; the log has all of them.
const KEPT_ERRORS: usize = 100;

static RENDER_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn report(language: &str, id: &str, error: &str) {
    tracing::error!(language, message = id, error, "text could not be rendered");
    if let Ok(mut kept) = RENDER_ERRORS.lock()
        && kept.len() < KEPT_ERRORS
    {
        kept.push(format!("{language}: {id}: {error}"));
    }
}

/// The render errors since the last call: a missing message or an unresolved variable.
pub fn take_render_errors() -> Vec<String> {
    RENDER_ERRORS
        .lock()
        .map(|mut kept| std::mem::take(&mut *kept))
        .unwrap_or_default()
}

/// Every embedded language, loaded on first use; English first.
pub static LANGUAGES: LazyLock<Vec<&'static Language>> = LazyLock::new(|| {
    let mut languages: Vec<&'static Language> = Vec::new();
    for source in SOURCES {
        let fallback = languages.first().copied();
        languages.push(Box::leak(Box::new(Language::load(source, fallback))));
    }
    languages
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_or_message_is_reported_and_german_falls_back_to_english() {
        let german = LANGUAGES[1];
        assert_eq!(german.code, "de");
        let _ = take_render_errors();
        let mut args = FluentArgs::new();
        args.set("radius", 5);
        assert_eq!(
            german.format("cust-nearby-button", &args),
            "📍 In der Nähe (5 km)"
        );
        assert!(take_render_errors().is_empty());

        let shown = german.format("cust-nearby-button", &FluentArgs::new());
        assert!(shown.contains("{$radius}"), "{shown}");
        let errors = take_render_errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("de: cust-nearby-button:"),
            "{errors:?}"
        );

        assert_eq!(german.format("no-such-message", &args), "no-such-message");
        assert_eq!(
            take_render_errors(),
            ["en: no-such-message: no such message"]
        );
    }
}
