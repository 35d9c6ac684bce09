//! `replaceComments` (C comments → one space), `removeComments` (C, HTML, `--` and `#`
//! comments removed) and `removeCommentsChar` (comment markers removed, text kept).

pub fn replace_comments(input: &[u8]) -> Option<Vec<u8>> {
    if !contains(input, b"/*") {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i..].starts_with(b"/*") {
            out.push(b' ');
            match find(&input[i + 2..], b"*/") {
                Some(end) => i += 2 + end + 2,
                None => break, // an unterminated comment runs to the end
            }
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

pub fn remove_comments(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut in_comment = false;
    while i < input.len() {
        let rest = &input[i..];
        if in_comment {
            if rest.starts_with(b"*/") {
                in_comment = false;
                i += 2;
            } else if rest.starts_with(b"-->") {
                in_comment = false;
                i += 3;
            } else {
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            in_comment = true;
            i += 2;
        } else if rest.starts_with(b"<!--") {
            in_comment = true;
            i += 4;
        } else if rest.starts_with(b"--") || rest[0] == b'#' {
            // a line comment hides the rest of the value
            out.push(b' ');
            break;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    super::changed(input, out)
}

pub fn remove_comments_char(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        if let Some(marker) = [&b"<!--"[..], b"-->", b"/*", b"*/", b"--", b"#"]
            .iter()
            .find(|m| rest.starts_with(m))
        {
            i += marker.len();
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    super::changed(input, out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_c_comments() {
        assert_eq!(
            replace_comments(b"un/**/ion/*x*/sel/*open").unwrap(),
            b"un ion sel "
        );
        assert_eq!(replace_comments(b"a*/b"), None);
    }

    #[test]
    fn removes_comments() {
        assert_eq!(
            remove_comments(b"a/*x*/b<!--y-->c-- rest").unwrap(),
            b"abc "
        );
        assert_eq!(remove_comments(b"1 #x").unwrap(), b"1  ");
        assert_eq!(remove_comments(b"a/*open").unwrap(), b"a ");
        assert_eq!(remove_comments(b"plain"), None);
    }

    #[test]
    fn removes_markers_only() {
        assert_eq!(
            remove_comments_char(b"a/*b*/c<!--d-->e--f#g").unwrap(),
            b"abcdefg"
        );
        assert_eq!(remove_comments_char(b"plain"), None);
    }
}
