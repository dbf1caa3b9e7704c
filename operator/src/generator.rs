//! Values the operator invents (signing keys, webhook token, database passwords).
//!
//! Injected so that `render` and golden tests are stable while the controller uses real
//! randomness. A generated value is created once and then read back from its Secret.

use rand::RngExt;

pub trait SecretGenerator: Send + Sync {
    /// A new secret value for `purpose` (e.g. `SECRET_KEY`).
    fn generate(&self, purpose: &str) -> String;
}

/// 48 random alphanumeric characters (~285 bits) from the OS-seeded thread RNG. Alphanumeric
/// only, because Telegram restricts the webhook secret token to `A-Za-z0-9_-` and the values end
/// up in URLs and shell environments.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomGenerator;

impl SecretGenerator for RandomGenerator {
    fn generate(&self, _purpose: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        (0..48)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect()
    }
}

/// Deterministic placeholders for offline rendering and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlaceholderGenerator;

impl SecretGenerator for PlaceholderGenerator {
    fn generate(&self, purpose: &str) -> String {
        format!(
            "generated-{}",
            purpose.to_ascii_lowercase().replace('_', "-")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_are_long_alphanumeric_and_differ() {
        let a = RandomGenerator.generate("SECRET_KEY");
        let b = RandomGenerator.generate("SECRET_KEY");
        assert_eq!(a.len(), 48);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn placeholders_are_stable() {
        assert_eq!(
            PlaceholderGenerator.generate("SECRET_KEY"),
            "generated-secret-key"
        );
    }
}
