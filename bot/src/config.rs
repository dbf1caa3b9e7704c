//! Configuration from the environment.
//!
//! Every variable is read in one pass and every problem is collected, so a misconfigured start
//! fails with ONE message that names all missing or invalid variables.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use chrono_tz::Tz;

/// Every environment variable the bot reads. The single-host `.env.production.example` and the
/// README configuration table are checked against this list.
pub const ENV_VARS: &[&str] = &[
    "DATABASE_URL",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_DB",
    "POSTGRES_PASSWORD",
    "DATABASE_MAX_CONNECTIONS",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "SECRET_KEY",
    "SECRET_KEY_PREVIOUS",
    "SECRET_KEYS_PREVIOUS",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET_TOKEN",
    "WEBHOOK_SECRET_TOKEN_PREVIOUS",
    "WEBHOOK_MAX_BODY_BYTES",
    "ADMIN_TELEGRAM_IDS",
    "BIND_ADDR",
    "ENVIRONMENT",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "TIMEZONE",
    "SHUTDOWN_TIMEOUT",
    "MIGRATE_ON_START",
    "CURRENCY",
    "RATE_LIMIT_PER_MINUTE",
    "INBOX_WORKERS",
    "INBOX_CLAIM_TIMEOUT",
    "INBOX_RETENTION_DAYS",
    "AUDIT_RETENTION_DAYS",
    "OUTBOUND_MESSAGES_PER_SECOND",
    "RESERVATION_MAX_UNITS",
    "PAYMENT_HOLD_MINUTES",
    "PENDING_REFUND_CHECK_SECONDS",
    "STRIPE_PROVIDER_TOKEN",
    "STRIPE_API_KEY",
    "STRIPE_API_URL",
    "STRIPE_WEBHOOK_SECRET",
];

const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";
const DEFAULT_STRIPE_API_URL: &str = "https://api.stripe.com";

/// A value that must never reach logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Everything `serve` needs. Commands that need less (`migrate`, `webhook`) read only their part.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub redis_url: Secret,
    pub secret_key: Secret,
    /// Earlier keys whose button data is still accepted (`SECRET_KEY_PREVIOUS`, then
    /// `SECRET_KEYS_PREVIOUS`, newest first); only `secret_key` signs.
    pub secret_keys_previous: Vec<Secret>,
    pub telegram: TelegramConfig,
    pub webhook: Option<WebhookConfig>,
    pub admin_ids: Vec<i64>,
    pub bind_addr: SocketAddr,
    pub environment: String,
    pub log: LogConfig,
    pub timezone: Tz,
    pub shutdown_timeout: Duration,
    pub migrate_on_start: bool,
    pub currency: String,
    pub rate_limit_per_minute: u32,
    pub inbox: InboxConfig,
    pub retention: RetentionConfig,
    pub outbound_messages_per_second: u32,
    /// The most units one customer may hold on one offer.
    pub reservation_max_units: i32,
    pub stripe: StripeConfig,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub token: Secret,
    pub api_url: String,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    pub secret_token: Secret,
    pub secret_token_previous: Option<Secret>,
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy)]
pub struct InboxConfig {
    pub workers: usize,
    /// How long a stored update belongs to the replica that stored or claimed it before any
    /// replica may take it over (crash recovery).
    pub claim_timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct RetentionConfig {
    pub inbox_days: u32,
    pub audit_days: u32,
}

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub provider_token: Option<Secret>,
    pub api_key: Option<Secret>,
    pub api_url: String,
    pub webhook_secret: Option<Secret>,
    /// How long units stay held for a customer paying in the chat.
    pub hold: chrono::Duration,
    /// How often a refund Stripe reported as pending is looked up again, in case its webhook
    /// event never arrives.
    pub pending_refund_check: chrono::Duration,
}

impl StripeConfig {
    /// Paying in the chat needs the provider token (invoices) and the API key (refunds).
    pub fn payments_enabled(&self) -> bool {
        self.provider_token.is_some() && self.api_key.is_some()
    }
}

/// A configuration that cannot be used; the message lists every problem at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Reads variables from a map so tests never touch the process environment.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
}

impl<'a> Reader<'a> {
    fn new(vars: &'a HashMap<String, String>) -> Self {
        Self {
            vars,
            problems: Vec::new(),
        }
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required(&mut self, name: &str, why: &str) -> Option<String> {
        let value = self.optional(name);
        if value.is_none() {
            self.problems.push(format!("{name} is missing ({why})"));
        }
        value
    }

    fn parsed<T: std::str::FromStr>(&mut self, name: &str, default: T, expected: &str) -> T {
        match self.optional(name) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                self.problems
                    .push(format!("{name}={raw:?} is invalid: expected {expected}"));
                default
            }),
        }
    }

    fn seconds(&mut self, name: &str, default: u64) -> Duration {
        let raw = self.optional(name);
        let Some(raw) = raw else {
            return Duration::from_secs(default);
        };
        match parse_duration(&raw) {
            Some(d) => d,
            None => {
                self.problems.push(format!(
                    "{name}={raw:?} is invalid: expected seconds such as 25 or 25s"
                ));
                Duration::from_secs(default)
            }
        }
    }
}

fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if let Some(ms) = raw.strip_suffix("ms") {
        return ms.trim().parse().ok().map(Duration::from_millis);
    }
    let secs = raw.strip_suffix('s').unwrap_or(raw).trim();
    secs.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn valid_http_url(raw: &str) -> bool {
    raw.parse::<reqwest::Url>()
        .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .unwrap_or(false)
}

/// Telegram accepts 1-256 characters `A-Z a-z 0-9 _ -` as a webhook secret token.
fn valid_webhook_secret(raw: &str) -> bool {
    (1..=256).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Config {
    /// Reads the process environment (and a `.env` file in development, loaded by the caller).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&env_vars())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut r = Reader::new(vars);

        let database = read_database(&mut r);
        let redis_url = read_redis_url(&mut r);

        let secret_key = r.required(
            "SECRET_KEY",
            "signs button data; generate with `openssl rand -hex 32`",
        );
        if let Some(key) = &secret_key
            && key.len() < 32
        {
            r.problems
                .push("SECRET_KEY is too short: use at least 32 characters".to_owned());
        }
        // A rotation that keeps several keys in their grace period (the operator's) lists them
        // comma-separated, newest first; the single SECRET_KEY_PREVIOUS stays for the others.
        let secret_keys_previous: Vec<Secret> = r
            .optional("SECRET_KEY_PREVIOUS")
            .into_iter()
            .chain(
                r.optional("SECRET_KEYS_PREVIOUS")
                    .map(|list| {
                        list.split(',')
                            .map(str::trim)
                            .filter(|key| !key.is_empty())
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            )
            .map(Secret::new)
            .collect();
        if secret_keys_previous
            .iter()
            .any(|key| key.expose().len() < 32)
        {
            r.problems.push(
                "SECRET_KEY_PREVIOUS / SECRET_KEYS_PREVIOUS: every previous key needs at least 32 characters"
                    .to_owned(),
            );
        }

        let telegram = read_telegram(&mut r);
        let webhook = read_webhook(&mut r);

        let admin_ids = match r.optional("ADMIN_TELEGRAM_IDS") {
            None => Vec::new(),
            Some(raw) => {
                let parsed: Result<Vec<i64>, _> = raw
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::parse)
                    .collect();
                parsed.unwrap_or_else(|_| {
                    r.problems.push(format!(
                        "ADMIN_TELEGRAM_IDS={raw:?} is invalid: expected comma-separated Telegram user ids such as 12345,67890"
                    ));
                    Vec::new()
                })
            }
        };

        let bind_addr = r.parsed(
            "BIND_ADDR",
            SocketAddr::from(([0, 0, 0, 0], 8000)),
            "host:port such as 0.0.0.0:8000",
        );
        let environment = r
            .optional("ENVIRONMENT")
            .unwrap_or_else(|| "development".to_owned());
        let log = LogConfig {
            format: match r.optional("LOG_FORMAT").as_deref() {
                None | Some("json") => LogFormat::Json,
                Some("pretty") => LogFormat::Pretty,
                Some(other) => {
                    r.problems.push(format!(
                        "LOG_FORMAT={other:?} is invalid: expected json or pretty"
                    ));
                    LogFormat::Json
                }
            },
        };
        let timezone = r.parsed(
            "TIMEZONE",
            Tz::UTC,
            "an IANA time zone such as Europe/Berlin",
        );
        let shutdown_timeout = r.seconds("SHUTDOWN_TIMEOUT", 25);
        let migrate_on_start = r.parsed("MIGRATE_ON_START", false, "true or false");
        let currency = r.optional("CURRENCY").unwrap_or_else(|| "EUR".to_owned());
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            r.problems.push(format!(
                "CURRENCY={currency:?} is invalid: expected an ISO 4217 code such as EUR"
            ));
        }
        let rate_limit_per_minute = r.parsed(
            "RATE_LIMIT_PER_MINUTE",
            30,
            "a whole number of updates per minute",
        );
        let inbox = InboxConfig {
            workers: r.parsed("INBOX_WORKERS", 16, "a whole number of workers"),
            claim_timeout: r.seconds("INBOX_CLAIM_TIMEOUT", 30),
        };
        if inbox.workers == 0 {
            r.problems
                .push("INBOX_WORKERS must be at least 1".to_owned());
        }
        let retention = RetentionConfig {
            inbox_days: r.parsed("INBOX_RETENTION_DAYS", 7, "a whole number of days"),
            audit_days: r.parsed("AUDIT_RETENTION_DAYS", 90, "a whole number of days"),
        };
        let outbound_messages_per_second = r.parsed(
            "OUTBOUND_MESSAGES_PER_SECOND",
            25,
            "a whole number of messages per second",
        );
        let reservation_max_units = r.parsed(
            "RESERVATION_MAX_UNITS",
            5,
            "a whole number of units per customer and offer",
        );
        if reservation_max_units < 1 {
            r.problems
                .push("RESERVATION_MAX_UNITS must be at least 1".to_owned());
        }
        let stripe = read_stripe(&mut r);

        match (r.problems.is_empty(), database, secret_key, telegram) {
            (true, Some(database), Some(secret_key), Some(telegram)) => Ok(Config {
                database,
                redis_url,
                secret_key: Secret::new(secret_key),
                secret_keys_previous,
                telegram,
                webhook,
                admin_ids,
                bind_addr,
                environment,
                log,
                timezone,
                shutdown_timeout,
                migrate_on_start,
                currency,
                rate_limit_per_minute,
                inbox,
                retention,
                outbound_messages_per_second,
                reservation_max_units,
                stripe,
            }),
            _ => Err(ConfigError {
                problems: r.problems,
            }),
        }
    }
}

/// Runs one section reader alone, for commands that need only part of the configuration.
fn read_section<T>(
    vars: &HashMap<String, String>,
    read: impl FnOnce(&mut Reader<'_>) -> Option<T>,
) -> Result<T, ConfigError> {
    let mut r = Reader::new(vars);
    let value = read(&mut r);
    match value {
        Some(value) if r.problems.is_empty() => Ok(value),
        _ => Err(ConfigError {
            problems: r.problems,
        }),
    }
}

fn env_vars() -> HashMap<String, String> {
    std::env::vars().collect()
}

impl DatabaseConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        read_section(&env_vars(), read_database)
    }
}

impl TelegramConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        read_section(&env_vars(), read_telegram)
    }
}

impl WebhookConfig {
    /// The webhook settings; an error when `WEBHOOK_URL` is not set.
    pub fn from_env() -> Result<Self, ConfigError> {
        read_section(&env_vars(), |r| {
            let webhook = read_webhook(r);
            if webhook.is_none() && r.problems.is_empty() {
                r.problems.push(
                    "WEBHOOK_URL is missing (the public https URL Telegram posts updates to)"
                        .to_owned(),
                );
            }
            webhook
        })
    }
}

fn read_stripe(r: &mut Reader<'_>) -> StripeConfig {
    let stripe = StripeConfig {
        provider_token: r.optional("STRIPE_PROVIDER_TOKEN").map(Secret::new),
        api_key: r.optional("STRIPE_API_KEY").map(Secret::new),
        api_url: r
            .optional("STRIPE_API_URL")
            .unwrap_or_else(|| DEFAULT_STRIPE_API_URL.to_owned()),
        webhook_secret: r.optional("STRIPE_WEBHOOK_SECRET").map(Secret::new),
        hold: chrono::Duration::minutes(r.parsed(
            "PAYMENT_HOLD_MINUTES",
            15,
            "a whole number of minutes",
        )),
        pending_refund_check: chrono::Duration::seconds(r.parsed(
            "PENDING_REFUND_CHECK_SECONDS",
            600,
            "a whole number of seconds",
        )),
    };
    if stripe.hold < chrono::Duration::minutes(1) {
        r.problems
            .push("PAYMENT_HOLD_MINUTES must be at least 1".to_owned());
    }
    if !valid_http_url(&stripe.api_url) {
        r.problems.push(format!(
            "STRIPE_API_URL={:?} is invalid: expected an http(s) URL",
            stripe.api_url
        ));
    }
    stripe
}

impl StripeConfig {
    /// The payment settings alone (for `payments-check`).
    pub fn from_env() -> Result<Self, ConfigError> {
        read_section(&env_vars(), |r| Some(read_stripe(r)))
    }
}

/// `DATABASE_URL` wins; otherwise the URL is built from the `POSTGRES_*` variables.
fn read_database(r: &mut Reader<'_>) -> Option<DatabaseConfig> {
    let max_connections = r.parsed("DATABASE_MAX_CONNECTIONS", 32, "a whole number");
    let url = match r.optional("DATABASE_URL") {
        Some(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                r.problems.push(
                    "DATABASE_URL is invalid: expected postgres://user:password@host:port/database"
                        .to_owned(),
                );
                return None;
            }
            url
        }
        None => {
            let host = r
                .optional("POSTGRES_HOST")
                .unwrap_or_else(|| "localhost".to_owned());
            let port: u16 = r.parsed("POSTGRES_PORT", 5432, "a port number");
            let user = r
                .optional("POSTGRES_USER")
                .unwrap_or_else(|| "toogoodtogo".to_owned());
            let db = r
                .optional("POSTGRES_DB")
                .unwrap_or_else(|| "toogoodtogo".to_owned());
            let password = r.required(
                "POSTGRES_PASSWORD",
                "or set DATABASE_URL to a full postgres:// URL",
            )?;
            format!(
                "postgres://{}:{}@{host}:{port}/{}",
                encode_component(&user),
                encode_component(&password),
                encode_component(&db)
            )
        }
    };
    Some(DatabaseConfig {
        url: Secret::new(url),
        max_connections,
    })
}

fn read_redis_url(r: &mut Reader<'_>) -> Secret {
    if let Some(url) = r.optional("REDIS_URL") {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            r.problems
                .push("REDIS_URL is invalid: expected redis://[:password@]host:port".to_owned());
        }
        return Secret::new(url);
    }
    let host = r
        .optional("REDIS_HOST")
        .unwrap_or_else(|| "localhost".to_owned());
    let port: u16 = r.parsed("REDIS_PORT", 6379, "a port number");
    let auth = r
        .optional("REDIS_PASSWORD")
        .map(|p| format!(":{}@", encode_component(&p)))
        .unwrap_or_default();
    Secret::new(format!("redis://{auth}{host}:{port}"))
}

fn read_telegram(r: &mut Reader<'_>) -> Option<TelegramConfig> {
    let token = r.required("TELEGRAM_BOT_TOKEN", "the token @BotFather gave the bot");
    let api_url = r
        .optional("TELEGRAM_API_URL")
        .unwrap_or_else(|| DEFAULT_TELEGRAM_API_URL.to_owned());
    if !valid_http_url(&api_url) {
        r.problems.push(format!(
            "TELEGRAM_API_URL={api_url:?} is invalid: expected an http(s) URL"
        ));
    }
    if let Some(token) = &token
        && !token.contains(':')
    {
        r.problems.push(
            "TELEGRAM_BOT_TOKEN is invalid: expected the form 123456:ABC-DEF... from @BotFather"
                .to_owned(),
        );
    }
    Some(TelegramConfig {
        token: Secret::new(token?),
        api_url,
    })
}

fn read_webhook(r: &mut Reader<'_>) -> Option<WebhookConfig> {
    let max_body_bytes = r.parsed(
        "WEBHOOK_MAX_BODY_BYTES",
        1024 * 1024,
        "a whole number of bytes",
    );
    let url = r.optional("WEBHOOK_URL")?;
    if !url.starts_with("https://") && !valid_http_url(&url) {
        r.problems.push(format!(
            "WEBHOOK_URL={url:?} is invalid: expected https://your.domain/webhook"
        ));
    }
    let secret = r.required(
        "WEBHOOK_SECRET_TOKEN",
        "required with WEBHOOK_URL; generate with `openssl rand -hex 32`",
    );
    let previous = r.optional("WEBHOOK_SECRET_TOKEN_PREVIOUS");
    for (name, value) in [
        ("WEBHOOK_SECRET_TOKEN", &secret),
        ("WEBHOOK_SECRET_TOKEN_PREVIOUS", &previous),
    ] {
        if let Some(v) = value
            && !valid_webhook_secret(v)
        {
            r.problems.push(format!(
                "{name} is invalid: Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and -"
            ));
        }
    }
    Some(WebhookConfig {
        url,
        secret_token: Secret::new(secret?),
        secret_token_previous: previous.map(Secret::new),
        max_body_bytes,
    })
}

/// Percent-encodes a URL component (user, password, database name).
fn encode_component(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("TELEGRAM_BOT_TOKEN", "123456:TEST-token"),
            ("POSTGRES_PASSWORD", "pa ss/word"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ]
    }

    #[test]
    fn empty_environment_lists_every_required_variable_at_once() {
        let err = Config::from_vars(&HashMap::new()).unwrap_err();
        let message = err.to_string();
        for name in ["TELEGRAM_BOT_TOKEN", "POSTGRES_PASSWORD", "SECRET_KEY"] {
            assert!(message.contains(name), "{name} missing from: {message}");
        }
        assert_eq!(err.problems.len(), 3, "{message}");
    }

    #[test]
    fn database_url_is_built_from_postgres_variables_with_escaping() {
        let config = Config::from_vars(&vars(&minimal())).unwrap();
        assert_eq!(
            config.database.url.expose(),
            "postgres://toogoodtogo:pa%20ss%2Fword@localhost:5432/toogoodtogo"
        );
        assert_eq!(config.redis_url.expose(), "redis://localhost:6379");
        assert!(
            config.webhook.is_none(),
            "no WEBHOOK_URL means long polling"
        );
    }

    #[test]
    fn previous_secret_keys_come_from_both_variables_newest_first() {
        let k = |c: char| c.to_string().repeat(32);
        let mut v = vars(&minimal());
        v.insert("SECRET_KEY_PREVIOUS".into(), k('a'));
        v.insert(
            "SECRET_KEYS_PREVIOUS".into(),
            format!("{}, {},", k('b'), k('c')),
        );
        let config = Config::from_vars(&v).unwrap();
        let previous: Vec<&str> = config
            .secret_keys_previous
            .iter()
            .map(Secret::expose)
            .collect();
        assert_eq!(previous, [k('a'), k('b'), k('c')]);

        v.insert("SECRET_KEYS_PREVIOUS".into(), "short".into());
        let message = Config::from_vars(&v).unwrap_err().to_string();
        assert!(message.contains("SECRET_KEYS_PREVIOUS"), "{message}");
        assert!(
            !message.contains("short,"),
            "a key in the message: {message}"
        );
    }

    #[test]
    fn database_url_wins_over_postgres_variables() {
        let mut v = vars(&minimal());
        v.remove("POSTGRES_PASSWORD");
        v.insert("DATABASE_URL".into(), "postgres://a:b@db:5433/x".into());
        let config = Config::from_vars(&v).unwrap();
        assert_eq!(config.database.url.expose(), "postgres://a:b@db:5433/x");
    }

    #[test]
    fn webhook_url_requires_a_secret_token() {
        let mut v = vars(&minimal());
        v.insert(
            "WEBHOOK_URL".into(),
            "https://bot.example.com/webhook".into(),
        );
        let err = Config::from_vars(&v).unwrap_err();
        assert!(err.to_string().contains("WEBHOOK_SECRET_TOKEN is missing"));
    }

    #[test]
    fn invalid_values_are_all_reported_with_the_expected_form() {
        let mut v = vars(&minimal());
        v.insert("BIND_ADDR".into(), "nowhere".into());
        v.insert("TIMEZONE".into(), "Mars/Olympus".into());
        v.insert("SHUTDOWN_TIMEOUT".into(), "soon".into());
        v.insert("LOG_FORMAT".into(), "xml".into());
        v.insert("ADMIN_TELEGRAM_IDS".into(), "1,two".into());
        let err = Config::from_vars(&v).unwrap_err();
        assert_eq!(err.problems.len(), 5, "{err}");
        for name in [
            "BIND_ADDR",
            "TIMEZONE",
            "SHUTDOWN_TIMEOUT",
            "LOG_FORMAT",
            "ADMIN_TELEGRAM_IDS",
        ] {
            assert!(err.to_string().contains(name), "{name} in {err}");
        }
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let mut v = vars(&minimal());
        v.insert(
            "WEBHOOK_URL".into(),
            "https://bot.example.com/webhook".into(),
        );
        v.insert("WEBHOOK_SECRET_TOKEN".into(), "hook-secret-value".into());
        v.insert("REDIS_PASSWORD".into(), "redis-secret-value".into());
        let config = Config::from_vars(&v).unwrap();
        let debug = format!("{config:?}");
        for secret in [
            "123456:TEST-token",
            "pa%20ss",
            "0123456789abcdef0123456789abcdef",
            "hook-secret-value",
            "redis-secret-value",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked in {debug}");
        }
    }

    #[test]
    fn durations_accept_plain_and_suffixed_seconds() {
        assert_eq!(parse_duration("25"), Some(Duration::from_secs(25)));
        assert_eq!(parse_duration("2.5s"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_duration("-1"), None);
    }

    #[test]
    fn every_read_variable_is_listed() {
        let source = include_str!("config.rs");
        let listed: std::collections::HashSet<&str> = ENV_VARS.iter().copied().collect();
        // Names passed to the reader as literals: r.optional("X"), r.required("X"), ...
        for (i, _) in source.match_indices("(\"") {
            let rest = &source[i + 2..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if name.len() > 3 && rest[name.len()..].starts_with('"') {
                assert!(listed.contains(name.as_str()), "{name} is not in ENV_VARS");
            }
        }
    }
}
