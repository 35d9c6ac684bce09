//! `base64Encode`: standard alphabet with padding.

use base64::Engine as _;

pub fn base64_encode(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    Some(
        base64::engine::general_purpose::STANDARD
            .encode(input)
            .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        assert_eq!(base64_encode(b"<script>").unwrap(), b"PHNjcmlwdD4=");
        assert_eq!(base64_encode(b""), None);
    }
}
