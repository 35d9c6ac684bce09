//! SecLang transformations (`t:name`), one file per name, looked up by name at rule load.
//!
//! Every transformation follows ModSecurity v3 semantics on raw bytes (no UTF-8
//! assumption) and returns `None` when the input is unchanged, so the common
//! path (nothing to decode) allocates nothing.

mod base64_decode;
mod base64_encode;
mod bytes;
mod cmd_line;
mod comments;
mod css_decode;
mod escape_seq_decode;
mod hex;
mod html_entity_decode;
mod js_decode;
mod length;
mod normalize_path;
mod nulls;
mod sha1;
mod sql_hex_decode;
pub(crate) mod url_decode;
mod url_encode;
mod utf8_to_unicode;
mod whitespace;

/// A SecLang transformation; `None` = input unchanged (no allocation on the common path).
pub type Transform = fn(&[u8]) -> Option<Vec<u8>>;

/// By SecLang name, case-insensitive (`lowercase`, `urlDecodeUni`, `htmlEntityDecode`, `cmdLine`, ...).
/// `none` is the parser's (it clears the list), not a transform.
pub fn lookup(name: &str) -> Option<Transform> {
    let transform: Transform = match name.to_ascii_lowercase().as_str() {
        "lowercase" => bytes::lowercase,
        "uppercase" => bytes::uppercase,
        "trim" => whitespace::trim,
        "trimleft" => whitespace::trim_left,
        "trimright" => whitespace::trim_right,
        "removewhitespace" => whitespace::remove_whitespace,
        "compresswhitespace" => whitespace::compress_whitespace,
        "removenulls" => nulls::remove_nulls,
        "replacenulls" => nulls::replace_nulls,
        "urldecode" => url_decode::url_decode,
        "urldecodeuni" => url_decode::url_decode_uni,
        "urlencode" => url_encode::url_encode,
        "htmlentitydecode" => html_entity_decode::html_entity_decode,
        "jsdecode" => js_decode::js_decode,
        "cssdecode" => css_decode::css_decode,
        "escapeseqdecode" => escape_seq_decode::escape_seq_decode,
        "utf8tounicode" => utf8_to_unicode::utf8_to_unicode,
        "cmdline" => cmd_line::cmd_line,
        "replacecomments" => comments::replace_comments,
        "removecomments" => comments::remove_comments,
        "removecommentschar" => comments::remove_comments_char,
        "normalizepath" | "normalisepath" => normalize_path::normalize_path,
        "normalizepathwin" | "normalisepathwin" => normalize_path::normalize_path_win,
        "length" => length::length,
        "base64decode" => base64_decode::base64_decode,
        "base64decodeext" => base64_decode::base64_decode_ext,
        "base64encode" => base64_encode::base64_encode,
        "sha1" => sha1::sha1,
        "hexencode" => hex::hex_encode,
        "hexdecode" => hex::hex_decode,
        "sqlhexdecode" => sql_hex_decode::sql_hex_decode,
        _ => return None,
    };
    Some(transform)
}

/// `None` when `out` equals `input`: callers keep the borrowed input.
fn changed(input: &[u8], out: Vec<u8>) -> Option<Vec<u8>> {
    if out == input { None } else { Some(out) }
}

/// C `isspace` in the "C" locale, plus NBSP (0xa0), as ModSecurity's whitespace transforms use.
fn is_space_or_nbsp(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | 0xa0
    )
}

/// C `isspace` in the "C" locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Value of one hex digit.
fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Two hex digits at `pos` as one byte.
fn hex_pair(input: &[u8], pos: usize) -> Option<u8> {
    let high = hex_value(*input.get(pos)?)?;
    let low = hex_value(*input.get(pos + 1)?)?;
    Some(high << 4 | low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crs_transformation_is_known_case_insensitively() {
        for name in [
            "urlDecodeUni",
            "lowercase",
            "jsDecode",
            "htmlEntityDecode",
            "utf8toUnicode",
            "removeNulls",
            "cssDecode",
            "cmdLine",
            "removeWhitespace",
            "replaceComments",
            "normalizePath",
            "escapeSeqDecode",
            "compressWhitespace",
            "normalizePathWin",
            "length",
            "base64Decode",
            "base64decode",
            "sha1",
            "hexEncode",
            "removeCommentsChar",
        ] {
            assert!(lookup(name).is_some(), "{name}");
        }
        assert!(lookup("none").is_none());
        assert!(lookup("nosuch").is_none());
    }

    #[test]
    fn chained_like_crs() {
        let steps = [
            "utf8toUnicode",
            "urlDecodeUni",
            "htmlEntityDecode",
            "jsDecode",
            "cssDecode",
            "removeNulls",
        ];
        let mut value = b"%3Cscr%u0069pt%3E&lt;\\x41\\101".to_vec();
        for step in steps {
            if let Some(out) = lookup(step).unwrap()(&value) {
                value = out;
            }
        }
        assert_eq!(value, b"<script><AA");
    }
}
