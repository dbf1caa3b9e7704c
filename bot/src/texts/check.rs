//! The translators' check (`toogoodtogo-bot texts --check`, and a test): every `.ftl` parses,
//! every language has exactly English's messages with the same variables, every message renders
//! without errors, and labels fit Telegram's limits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::fluent::{FALLBACK, FILE_NAMES, SOURCES};

/// Telegram has no documented limit on a button's text, but clients cut a label that does not fit
/// one row of a phone screen; this many characters of fixed text (variables not counted) fit.
pub const MAX_BUTTON_CHARS: usize = 40;
/// `setMyCommands`: a command's description has 1 to 256 characters.
pub const MAX_COMMAND_DESCRIPTION_CHARS: usize = 256;
/// `sendMessage`: at most 4096 characters of text.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// One language's files as (file name, content).
pub struct LanguageFiles {
    pub language: String,
    pub files: Vec<(String, String)>,
}

/// The translations embedded in this binary.
pub fn embedded() -> Vec<LanguageFiles> {
    SOURCES
        .iter()
        .map(|source| LanguageFiles {
            language: source.language.to_owned(),
            files: source
                .files
                .iter()
                .map(|(name, content)| ((*name).to_owned(), (*content).to_owned()))
                .collect(),
        })
        .collect()
}

/// The translations in a folder laid out like `bot/locales/` (one sub-folder per language).
pub fn from_dir(dir: &Path) -> std::io::Result<Vec<LanguageFiles>> {
    let mut languages = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let language = entry.file_name().to_string_lossy().into_owned();
        let mut files = Vec::new();
        for name in FILE_NAMES {
            let path = entry.path().join(name);
            match std::fs::read_to_string(&path) {
                Ok(content) => files.push(((*name).to_owned(), content)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        languages.push(LanguageFiles { language, files });
    }
    // English first: every other language is compared with it.
    languages.sort_by_key(|l| l.language != FALLBACK);
    Ok(languages)
}

/// What is known about one message of one language.
struct Message {
    file: String,
    variables: BTreeSet<String>,
    /// Characters of fixed text (without variables), in the longest variant.
    fixed_chars: usize,
}

/// Every problem found, one line each; empty when all is well.
pub fn check(languages: &[LanguageFiles]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut messages: Vec<(String, BTreeMap<String, Message>)> = Vec::new();
    for language in languages {
        let code = &language.language;
        let mut found = BTreeMap::new();
        for name in FILE_NAMES {
            if !language.files.iter().any(|(file, _)| file == name) {
                problems.push(format!("{code}/{name}: file missing"));
            }
        }
        for (file, content) in &language.files {
            let resource = match fluent_syntax::parser::parse(content.as_str()) {
                Ok(resource) => resource,
                Err((resource, errors)) => {
                    for error in errors {
                        let line = content[..error.pos.start.min(content.len())]
                            .matches('\n')
                            .count()
                            + 1;
                        problems.push(format!(
                            "{code}/{file}:{line}: syntax error: {}",
                            error.kind
                        ));
                    }
                    resource
                }
            };
            for entry in resource.body {
                let Entry::Message(message) = entry else {
                    continue;
                };
                let id = message.id.name.to_owned();
                let Some(pattern) = &message.value else {
                    problems.push(format!("{code}/{file}: {id} has no text"));
                    continue;
                };
                let mut variables = BTreeSet::new();
                collect_variables(pattern, &mut variables);
                let message = Message {
                    file: file.clone(),
                    variables,
                    fixed_chars: fixed_chars(pattern),
                };
                if let Some(earlier) = found.insert(id.clone(), message) {
                    problems.push(format!(
                        "{code}/{file}: {id} is defined twice (also in {})",
                        earlier.file
                    ));
                }
            }
        }
        messages.push((code.clone(), found));
    }
    let Some((fallback_code, fallback)) = messages.first() else {
        problems.push("no language found".to_owned());
        return problems;
    };
    if fallback_code != FALLBACK {
        problems.push(format!("{FALLBACK} (the fallback) is missing"));
    }
    for (code, found) in &messages {
        for (id, english) in fallback {
            match found.get(id) {
                None => problems.push(format!(
                    "{code}/{}: {id} is missing (English is shown instead)",
                    english.file
                )),
                Some(message) if message.variables != english.variables => problems.push(format!(
                    "{code}/{}: {id} uses the variables {} but English uses {}",
                    message.file,
                    list(&message.variables),
                    list(&english.variables)
                )),
                Some(_) => {}
            }
        }
        for (id, message) in found {
            if !fallback.contains_key(id) {
                problems.push(format!(
                    "{code}/{}: {id} is not an English message (a typo, or one that was removed?)",
                    message.file
                ));
            }
            let (what, max) = if is_button(id) {
                ("button label", MAX_BUTTON_CHARS)
            } else if id.starts_with("command-") {
                ("command description", MAX_COMMAND_DESCRIPTION_CHARS)
            } else {
                ("message", MAX_MESSAGE_CHARS)
            };
            if message.fixed_chars > max {
                problems.push(format!(
                    "{code}/{}: {id}: the {what} has {} characters, at most {max} fit",
                    message.file, message.fixed_chars
                ));
            }
        }
        problems.extend(render_all(languages, code, found));
    }
    problems
}

/// Renders every message with sample values for its variables and reports Fluent's errors
/// (unknown message or term references, unresolved variables, bad selectors).
fn render_all(
    languages: &[LanguageFiles],
    code: &str,
    found: &BTreeMap<String, Message>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(language) = languages.iter().find(|l| l.language == code) else {
        return problems;
    };
    let mut bundle = FluentBundle::new_concurrent(vec![code.parse().unwrap_or_default()]);
    bundle.set_use_isolating(false);
    for (_, content) in &language.files {
        let resource = match FluentResource::try_new(content.clone()) {
            Ok(resource) => resource,
            Err((resource, _)) => resource,
        };
        // Duplicates are reported above.
        let _ = bundle.add_resource(resource);
    }
    for (id, message) in found {
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            continue;
        };
        let mut args = FluentArgs::new();
        for variable in &message.variables {
            // A number exercises plural selectors; other values fall to the default variant.
            args.set(variable.clone(), 2);
        }
        let mut errors = Vec::new();
        bundle.format_pattern(pattern, Some(&args), &mut errors);
        for error in errors {
            problems.push(format!("{code}/{}: {id}: {error}", message.file));
        }
    }
    problems
}

/// Whether a message is the label of a button.
pub fn is_button(id: &str) -> bool {
    id.ends_with("-button")
        || id.starts_with("category-")
        || id.starts_with("role-")
        || id.starts_with("delete-confirm-")
}

/// Every message of one language with the variables it uses (for tests of the code's side).
pub fn variables_by_id(language: &LanguageFiles) -> BTreeMap<String, BTreeSet<String>> {
    let mut found = BTreeMap::new();
    for (_, content) in &language.files {
        let resource = match fluent_syntax::parser::parse(content.as_str()) {
            Ok(resource) | Err((resource, _)) => resource,
        };
        for entry in resource.body {
            if let Entry::Message(message) = entry
                && let Some(pattern) = &message.value
            {
                let mut variables = BTreeSet::new();
                collect_variables(pattern, &mut variables);
                found.insert(message.id.name.to_owned(), variables);
            }
        }
    }
    found
}

fn list(variables: &BTreeSet<String>) -> String {
    if variables.is_empty() {
        return "none".to_owned();
    }
    variables
        .iter()
        .map(|v| format!("${v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn collect_variables(pattern: &Pattern<&str>, variables: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let PatternElement::Placeable { expression } = element {
            collect_expression(expression, variables);
        }
    }
}

fn collect_expression(expression: &Expression<&str>, variables: &mut BTreeSet<String>) {
    match expression {
        Expression::Select { selector, variants } => {
            collect_inline(selector, variables);
            for variant in variants {
                collect_variables(&variant.value, variables);
            }
        }
        Expression::Inline(inline) => collect_inline(inline, variables),
    }
}

fn collect_inline(inline: &InlineExpression<&str>, variables: &mut BTreeSet<String>) {
    match inline {
        InlineExpression::VariableReference { id } => {
            variables.insert(id.name.to_owned());
        }
        InlineExpression::FunctionReference { arguments, .. } => {
            for argument in &arguments.positional {
                collect_inline(argument, variables);
            }
            for argument in &arguments.named {
                collect_inline(&argument.value, variables);
            }
        }
        InlineExpression::Placeable { expression } => collect_expression(expression, variables),
        _ => {}
    }
}

/// The characters of fixed text, in the longest variant of any selector.
fn fixed_chars(pattern: &Pattern<&str>) -> usize {
    pattern
        .elements
        .iter()
        .map(|element| match element {
            PatternElement::TextElement { value } => value.chars().count(),
            PatternElement::Placeable { expression } => expression_chars(expression),
        })
        .sum()
}

fn expression_chars(expression: &Expression<&str>) -> usize {
    match expression {
        Expression::Select { variants, .. } => variants
            .iter()
            .map(|variant| fixed_chars(&variant.value))
            .max()
            .unwrap_or(0),
        Expression::Inline(InlineExpression::StringLiteral { value }) => value.chars().count(),
        Expression::Inline(InlineExpression::Placeable { expression }) => {
            expression_chars(expression)
        }
        Expression::Inline(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_translations_are_complete_and_consistent() {
        let problems = check(&embedded());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_check_reports_a_missing_message_a_changed_variable_and_a_syntax_error() {
        let files = |main: &str| {
            FILE_NAMES
                .iter()
                .map(|name| {
                    let content = if *name == "main.ftl" { main } else { "" };
                    ((*name).to_owned(), content.to_owned())
                })
                .collect()
        };
        let languages = vec![
            LanguageFiles {
                language: "en".to_owned(),
                files: files("hello = Hi { $name }\nbye = Bye\nok-button = OK\nlocale = en_GB\n"),
            },
            LanguageFiles {
                language: "de".to_owned(),
                files: files(
                    "hello = Hallo { $nme }\nok-button = Das ist eine viel zu lange Beschriftung für einen Knopf\nlocale = de_DE\nbroken = { $x\n",
                ),
            },
        ];
        let problems = check(&languages).join("\n");
        assert!(
            problems.contains("de/main.ftl: bye is missing"),
            "{problems}"
        );
        assert!(
            problems.contains("hello uses the variables $nme but English uses $name"),
            "{problems}"
        );
        assert!(
            problems.contains("de/main.ftl:5: syntax error"),
            "{problems}"
        );
        assert!(
            problems.contains("ok-button: the button label has"),
            "{problems}"
        );
    }
}
