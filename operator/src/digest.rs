//! Stable digests for change detection (never for security decisions).

use sha2::{Digest, Sha256};

/// Hex SHA-256 of the input.
pub fn hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// First 10 hex characters of the SHA-256: enough to tell versions or configs apart in names.
pub fn short_hex(bytes: &[u8]) -> String {
    let mut full = hex(bytes);
    full.truncate(10);
    full
}
