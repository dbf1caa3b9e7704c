//! What the intake needs to know about an update before it is stored: its id and the chat (or
//! user) whose updates must be processed in order. Full decoding happens at processing time.

use serde::Deserialize;
use serde_json::Value;

use crate::store::inbox::PendingUpdate;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body is not a Telegram update: {0}")]
    NotAnUpdate(String),
}

#[derive(Deserialize)]
struct Envelope {
    update_id: i64,
    #[serde(flatten)]
    kinds: serde_json::Map<String, Value>,
}

/// Reads the update id and ordering key of a raw update.
pub fn envelope(raw: &[u8]) -> Result<PendingUpdate, EnvelopeError> {
    let value: Value =
        serde_json::from_slice(raw).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
    envelope_of(value)
}

pub fn envelope_of(value: Value) -> Result<PendingUpdate, EnvelopeError> {
    if !value.is_object() {
        return Err(EnvelopeError::NotAnUpdate("expected a JSON object".into()));
    }
    let envelope: Envelope =
        serde_json::from_value(value).map_err(|e| EnvelopeError::NotAnUpdate(e.to_string()))?;
    if envelope.update_id < 0 {
        return Err(EnvelopeError::NotAnUpdate("update_id is negative".into()));
    }
    let ordering_key = envelope
        .kinds
        .values()
        .find_map(ordering_key_of_kind)
        .unwrap_or(0);
    Ok(PendingUpdate {
        update_id: envelope.update_id,
        ordering_key,
    })
}

/// The chat an update kind belongs to, else the user who caused it.
fn ordering_key_of_kind(kind: &Value) -> Option<i64> {
    let id_at = |path: &[&str]| {
        path.iter()
            .try_fold(kind, |v, key| v.get(key))
            .and_then(Value::as_i64)
    };
    id_at(&["chat", "id"])
        .or_else(|| id_at(&["message", "chat", "id"]))
        .or_else(|| id_at(&["from", "id"]))
        .or_else(|| id_at(&["user", "id"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_updates_are_ordered_by_chat() {
        let raw = br#"{"update_id": 7, "message": {"message_id": 1, "date": 0,
            "chat": {"id": -100, "type": "group"}, "from": {"id": 5, "is_bot": false, "first_name": "A"}}}"#;
        assert_eq!(
            envelope(raw).unwrap(),
            PendingUpdate {
                update_id: 7,
                ordering_key: -100
            }
        );
    }

    #[test]
    fn callback_queries_are_ordered_by_their_message_chat_then_user() {
        let with_message = br#"{"update_id": 8, "callback_query": {"id": "q", "from": {"id": 5},
            "message": {"message_id": 3, "chat": {"id": 42}}, "chat_instance": "c", "data": "x"}}"#;
        assert_eq!(envelope(with_message).unwrap().ordering_key, 42);
        let inline = br#"{"update_id": 9, "callback_query": {"id": "q", "from": {"id": 5}, "chat_instance": "c"}}"#;
        assert_eq!(envelope(inline).unwrap().ordering_key, 5);
    }

    #[test]
    fn malformed_bodies_are_rejected_with_a_reason() {
        assert!(matches!(
            envelope(b"{not json"),
            Err(EnvelopeError::NotJson(_))
        ));
        assert!(matches!(
            envelope(b"[1,2]"),
            Err(EnvelopeError::NotAnUpdate(_))
        ));
        assert!(matches!(
            envelope(br#"{"message": {}}"#),
            Err(EnvelopeError::NotAnUpdate(_))
        ));
        assert!(matches!(
            envelope(br#"{"update_id": "seven"}"#),
            Err(EnvelopeError::NotAnUpdate(_))
        ));
    }
}
