//! `htmlEntityDecode`: `&#DDD;`, `&#xHH;` (one byte: the value's low byte) and the five
//! named entities ModSecurity knows (`quot amp lt gt nbsp`); the `;` is optional.

pub fn html_entity_decode(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&b'&') {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut decoded_any = false;
    while i < input.len() {
        if input[i] == b'&'
            && let Some((byte, next)) = entity_at(input, i + 1)
        {
            out.push(byte);
            i = if input.get(next) == Some(&b';') {
                next + 1
            } else {
                next
            };
            decoded_any = true;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    decoded_any.then_some(out)
}

/// The entity body starting at `start` (just past `&`): its byte and where its digits/name end.
fn entity_at(input: &[u8], start: usize) -> Option<(u8, usize)> {
    if input.get(start) == Some(&b'#') {
        let (radix, digits_start) = match input.get(start + 1) {
            Some(b'x' | b'X') => (16, start + 2),
            _ => (10, start + 1),
        };
        let digits_end = digits_start
            + input[digits_start.min(input.len())..]
                .iter()
                .take_while(|b| {
                    if radix == 16 {
                        b.is_ascii_hexdigit()
                    } else {
                        b.is_ascii_digit()
                    }
                })
                .count();
        if digits_end == digits_start {
            return None;
        }
        // strtol then a cast to unsigned char: only the low byte survives (overflow saturates in C
        // to LONG_MAX, whose low byte is 0xff).
        let mut value: u64 = 0;
        for &digit in &input[digits_start..digits_end] {
            let d = u64::from(super::hex_value(digit).unwrap_or(0));
            value = value.saturating_mul(radix).saturating_add(d);
        }
        let byte = if value > i64::MAX as u64 {
            0xff
        } else {
            (value & 0xff) as u8
        };
        return Some((byte, digits_end));
    }
    let name_end = start
        + input[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
    let byte = match input[start..name_end].to_ascii_lowercase().as_slice() {
        b"quot" => b'"',
        b"amp" => b'&',
        b"lt" => b'<',
        b"gt" => b'>',
        b"nbsp" => 0xa0,
        _ => return None,
    };
    Some((byte, name_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_named() {
        assert_eq!(
            html_entity_decode(b"&lt;script&GT;&#x41;&#66&quot&nbsp;").unwrap(),
            b"<script>AB\"\xa0"
        );
        assert_eq!(html_entity_decode(b"&#x0000000000000041;").unwrap(), b"A");
        assert_eq!(html_entity_decode(b"&#321;").unwrap(), b"A"); // 321 & 0xff = 0x41
    }

    #[test]
    fn unknown_or_empty_kept() {
        assert_eq!(html_entity_decode(b"&copy; &#; &#x; & &"), None);
        assert_eq!(html_entity_decode(b"plain"), None);
        assert_eq!(html_entity_decode(b"a&amp").unwrap(), b"a&");
    }
}
