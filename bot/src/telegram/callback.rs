//! Callback data codec. Telegram limits `callback_data` to 64 bytes and hands it back verbatim,
//! so a button carries a compact action, its numeric arguments and a truncated HMAC that proves
//! the bot issued it. Data signed with an earlier key (`SECRET_KEY_PREVIOUS`,
//! `SECRET_KEYS_PREVIOUS`) stays valid during a key rotation; only the current key signs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// Telegram's limit for `callback_data`.
pub const MAX_CALLBACK_DATA_BYTES: usize = 64;
/// 9 bytes of HMAC-SHA256 (72 bits) in 12 base64url characters.
const MAC_BYTES: usize = 9;
const SEPARATOR: char = '|';

/// A decoded button press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackData {
    pub action: String,
    pub args: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("callback data would be {0} bytes; Telegram allows {MAX_CALLBACK_DATA_BYTES}")]
    TooLong(usize),
    #[error("action {0:?} must be 1-16 characters of a-z, 0-9 and _")]
    InvalidAction(String),
    #[error("callback data is malformed")]
    Malformed,
    #[error("callback data signature does not match")]
    Forged,
}

#[derive(Clone)]
pub struct CallbackCodec {
    current: Secret,
    /// Keys still accepted, never used for signing.
    previous: Vec<Secret>,
}

impl std::fmt::Debug for CallbackCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallbackCodec")
    }
}

impl CallbackCodec {
    pub fn new(current: Secret, previous: impl IntoIterator<Item = Secret>) -> Self {
        Self {
            current,
            previous: previous.into_iter().collect(),
        }
    }

    pub fn encode(&self, action: &str, args: &[i64]) -> Result<String, CallbackError> {
        let valid_action = (1..=16).contains(&action.len())
            && action
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_action {
            return Err(CallbackError::InvalidAction(action.to_owned()));
        }
        let mut body = action.to_owned();
        for arg in args {
            body.push(SEPARATOR);
            body.push_str(&arg.to_string());
        }
        let mac = URL_SAFE_NO_PAD.encode(mac(&self.current, &body));
        let data = format!("{body}{SEPARATOR}{mac}");
        if data.len() > MAX_CALLBACK_DATA_BYTES {
            return Err(CallbackError::TooLong(data.len()));
        }
        Ok(data)
    }

    pub fn decode(&self, data: &str) -> Result<CallbackData, CallbackError> {
        let (body, encoded_mac) = data
            .rsplit_once(SEPARATOR)
            .ok_or(CallbackError::Malformed)?;
        let given = URL_SAFE_NO_PAD
            .decode(encoded_mac)
            .map_err(|_| CallbackError::Malformed)?;
        let signed_by = |key: &Secret| bool::from(mac(key, body).ct_eq(given.as_slice()));
        if !(signed_by(&self.current) || self.previous.iter().any(signed_by)) {
            return Err(CallbackError::Forged);
        }
        let mut parts = body.split(SEPARATOR);
        let action = parts.next().ok_or(CallbackError::Malformed)?.to_owned();
        let args = parts
            .map(|p| p.parse().map_err(|_| CallbackError::Malformed))
            .collect::<Result<_, _>>()?;
        Ok(CallbackData { action, args })
    }
}

fn mac(key: &Secret, body: &str) -> [u8; MAC_BYTES] {
    // Domain separation: the same SECRET_KEY may sign other things.
    let mut hmac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    hmac.update(b"callback-data\0");
    hmac.update(body.as_bytes());
    let full = hmac.finalize().into_bytes();
    let mut out = [0u8; MAC_BYTES];
    out.copy_from_slice(&full[..MAC_BYTES]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> CallbackCodec {
        CallbackCodec::new(Secret::new("current-key-0123456789abcdef0123"), None)
    }

    #[test]
    fn round_trips_action_and_arguments() {
        let data = codec()
            .encode("offer_reserve", &[123_456_789, -5, 0])
            .unwrap();
        assert!(data.len() <= MAX_CALLBACK_DATA_BYTES);
        assert_eq!(
            codec().decode(&data).unwrap(),
            CallbackData {
                action: "offer_reserve".into(),
                args: vec![123_456_789, -5, 0]
            }
        );
    }

    #[test]
    fn tampered_arguments_are_refused() {
        let data = codec().encode("cancel", &[41]).unwrap();
        let tampered = data.replacen("41", "42", 1);
        assert_eq!(codec().decode(&tampered), Err(CallbackError::Forged));
        assert_eq!(codec().decode("cancel|42"), Err(CallbackError::Malformed));
        assert_eq!(codec().decode("garbage"), Err(CallbackError::Malformed));
    }

    #[test]
    fn data_signed_with_the_previous_key_stays_valid_during_rotation() {
        let old = codec().encode("cancel", &[7]).unwrap();
        let rotated = CallbackCodec::new(
            Secret::new("next-key-abcdef0123456789abcdef01"),
            Some(Secret::new("current-key-0123456789abcdef0123")),
        );
        assert_eq!(rotated.decode(&old).unwrap().args, vec![7]);
        let after_rotation =
            CallbackCodec::new(Secret::new("next-key-abcdef0123456789abcdef01"), None);
        assert_eq!(after_rotation.decode(&old), Err(CallbackError::Forged));
    }

    #[test]
    fn every_key_still_in_its_grace_period_is_accepted_and_only_the_current_one_signs() {
        let first = codec().encode("cancel", &[1]).unwrap();
        let second_key = "second-key-abcdef0123456789abcdef";
        let second = CallbackCodec::new(Secret::new(second_key), None)
            .encode("cancel", &[2])
            .unwrap();
        let third = CallbackCodec::new(
            Secret::new("third-key-abcdef0123456789abcdef0"),
            [
                Secret::new(second_key),
                Secret::new("current-key-0123456789abcdef0123"),
            ],
        );
        assert_eq!(third.decode(&first).unwrap().args, vec![1]);
        assert_eq!(third.decode(&second).unwrap().args, vec![2]);
        let signed_now = third.encode("cancel", &[3]).unwrap();
        assert_eq!(
            CallbackCodec::new(Secret::new(second_key), None).decode(&signed_now),
            Err(CallbackError::Forged),
            "an earlier key signed"
        );
    }

    #[test]
    fn oversized_data_is_refused_when_encoding() {
        let args = [i64::MIN; 4];
        assert!(matches!(
            codec().encode("sixteen_chars_ab", &args),
            Err(CallbackError::TooLong(_))
        ));
        assert!(matches!(
            codec().encode("Bad-Action", &[]),
            Err(CallbackError::InvalidAction(_))
        ));
    }
}
