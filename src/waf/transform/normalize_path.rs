//! `normalizePath` / `normalizePathWin`: collapse `//`, drop `.` segments, resolve `..`
//! (a rooted path cannot climb above `/`; a relative one keeps its leading `..`), keep a
//! trailing slash. The Windows variant first turns `\` into `/`.

pub fn normalize_path(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    super::changed(input, clean(input))
}

pub fn normalize_path_win(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&b'\\') {
        return normalize_path(input);
    }
    let slashed: Vec<u8> = input
        .iter()
        .map(|b| if *b == b'\\' { b'/' } else { *b })
        .collect();
    Some(clean(&slashed))
}

fn clean(path: &[u8]) -> Vec<u8> {
    let rooted = path.first() == Some(&b'/');
    let trailing_slash = path.len() > 1 && path.last() == Some(&b'/');
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in path.split(|b| *b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => match segments.last() {
                Some(last) if *last != b".." => {
                    segments.pop();
                }
                _ if rooted => {}
                _ => segments.push(segment),
            },
            _ => segments.push(segment),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if rooted {
        out.push(b'/');
    }
    for (index, segment) in segments.iter().enumerate() {
        if index > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(segment);
    }
    if trailing_slash && out.last() != Some(&b'/') && !out.is_empty() {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_segments() {
        assert_eq!(normalize_path(b"/a//b/./c/../d").unwrap(), b"/a/b/d");
        assert_eq!(
            normalize_path(b"/../../etc/passwd").unwrap(),
            b"/etc/passwd"
        );
        assert_eq!(normalize_path(b"../../etc/passwd"), None);
        assert_eq!(normalize_path(b"a/./b/").unwrap(), b"a/b/");
        assert_eq!(normalize_path(b"./").unwrap(), b"");
        assert_eq!(normalize_path(b"/index.php"), None);
        assert_eq!(normalize_path(b"/"), None);
    }

    #[test]
    fn windows_separators() {
        assert_eq!(
            normalize_path_win(b"c:\\windows\\..\\boot.ini").unwrap(),
            b"c:/boot.ini"
        );
        assert_eq!(normalize_path_win(b"/a/../b").unwrap(), b"/b");
    }
}
