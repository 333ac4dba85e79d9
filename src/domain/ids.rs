//! Resource ids in Unkey's format: `<prefix>_<base58 of 20 bytes>`, where the
//! first 4 bytes are a time stamp, so ids sort roughly by creation.

use rand::RngCore;

/// Unkey's id epoch, 2023-11-14T22:13:20Z.
const ID_EPOCH_MS: i64 = 1_700_000_000_000;

pub fn new_id(prefix: &str, now_ms: i64) -> String {
    let mut bytes = [0u8; 20];
    // The low 32 bits of the time since the epoch; wrapping is intended.
    let stamp = (now_ms - ID_EPOCH_MS) as u32;
    bytes[..4].copy_from_slice(&stamp.to_be_bytes());
    rand::rng().fill_bytes(&mut bytes[4..]);
    format!("{prefix}_{}", bs58::encode(bytes).into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_time() {
        let earlier = new_id("key", ID_EPOCH_MS + 1_000);
        let later = new_id("key", ID_EPOCH_MS + 10_000_000);
        assert!(earlier.starts_with("key_"));
        let decode = |id: &str| bs58::decode(&id[4..]).into_vec().unwrap();
        assert!(decode(&earlier)[..4] < decode(&later)[..4]);
        assert_eq!(decode(&earlier).len(), 20);
    }
}
