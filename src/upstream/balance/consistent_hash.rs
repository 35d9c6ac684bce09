//! stub
pub fn hash_key(bytes: &[u8]) -> u64 {
    bytes.len() as u64
}
