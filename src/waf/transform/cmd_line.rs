//! `cmdLine`: normalises shell/cmd.exe evasions: drops `\ " ' ^`, folds runs of space,
//! tab, CR, LF, `,` and `;` into one space, removes a space before `/` and `(`, lowercases.

pub fn cmd_line(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut after_space = false;
    for &byte in input {
        match byte {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !after_space {
                    out.push(b' ');
                    after_space = true;
                }
            }
            b'/' | b'(' => {
                if after_space {
                    out.pop();
                }
                after_space = false;
                out.push(byte);
            }
            other => {
                out.push(other.to_ascii_lowercase());
                after_space = false;
            }
        }
    }
    super::changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(
            cmd_line(b"C^:\\WiN\"dows\\sys'tem32 , ; /c  (dir)").unwrap(),
            b"c:windowssystem32/c(dir)"
        );
        assert_eq!(cmd_line(b"cat  /etc/passwd").unwrap(), b"cat/etc/passwd");
        assert!(cmd_line(b"ls -la").is_none());
    }
}
