//! Secrets: generation, hashing and comparison. A secret is handed out once
//! and stored only as its SHA-256 digest.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 digest of a secret, as stored.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A digest from its standard base64 (with padding), as Unkey exports
/// them: `None` unless it is exactly 32 bytes.
pub fn decode_hash(base64_digest: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_digest)
        .ok()?;
    bytes.try_into().ok()
}

/// Compares two digests in constant time.
pub fn digests_match(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// An Unkey key: `prefix_` + base58 of `[0x01, byte_length, random bytes]`.
pub fn new_unkey_key(prefix: Option<&str>, byte_length: u8) -> String {
    let mut bytes = vec![0u8; 2 + usize::from(byte_length)];
    bytes[0] = 0x01; // format version
    bytes[1] = byte_length;
    rand::rng().fill_bytes(&mut bytes[2..]);
    let encoded = bs58::encode(bytes).into_string();
    match prefix {
        Some(prefix) if !prefix.is_empty() => format!("{prefix}_{encoded}"),
        _ => encoded,
    }
}

/// The visible start of a key, as Unkey shows it: as many characters as the
/// prefix has, plus 5 (so `abc_` and 4 characters, or 5 without a prefix).
pub fn key_start(key: &str) -> String {
    let prefix_chars = key.rfind('_').map_or(0, |i| key[..i].chars().count());
    key.chars().take(prefix_chars + 5).collect()
}

/// An access key secret: 32 random bytes, URL-safe base64 without padding.
pub fn new_access_key_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unkey_keys_have_the_documented_shape() {
        let key = new_unkey_key(Some("abc"), 16);
        let encoded = key.strip_prefix("abc_").unwrap();
        // 16 random bytes always encode to 24 base58 characters starting "3Z".
        assert_eq!(encoded.len(), 24);
        assert!(encoded.starts_with("3Z"));
        let bytes = bs58::decode(encoded).into_vec().unwrap();
        assert_eq!(&bytes[..2], &[0x01, 16]);
        assert_eq!(new_unkey_key(None, 32).len(), 46);
    }

    #[test]
    fn start_is_prefix_and_four_characters() {
        assert_eq!(key_start("abc_3ZabcdEFG"), "abc_3Zab");
        assert_eq!(key_start("3ZabcdEFG"), "3Zabc");
        assert_eq!(key_start("unkey_3ZabcdEFG"), "unkey_3Zab");
    }

    #[test]
    fn digests_compare_by_value() {
        assert!(digests_match(&hash("s3cret"), &hash("s3cret")));
        assert!(!digests_match(&hash("s3cret"), &hash("s3cret!")));
        assert_eq!(new_access_key_secret().len(), 43);
    }
}
