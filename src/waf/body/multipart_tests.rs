//! Unit tests of the multipart processor against ModSecurity's flags.

use super::{BodyLimits, multipart};

const CT: &[u8] = b"multipart/form-data; boundary=XyZ";

fn parse(body: &str) -> super::ParsedBody {
    multipart(body.as_bytes(), CT, &BodyLimits::default())
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

#[test]
fn fields_and_files() {
    let body = crlf(
        "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\nline1\nline2\n--XyZ\n\
         Content-Disposition: form-data; name=\"f\"; filename=\"x.php\"\nContent-Type: text/plain\n\n\
         <?php ?>\n--XyZ--\n",
    );
    let parsed = parse(&body);
    assert_eq!(parsed.error, None);
    assert_eq!(
        parsed.args,
        vec![(b"a".to_vec(), b"line1\r\nline2".to_vec())]
    );
    let file = &parsed.files[0];
    assert_eq!(
        (file.field_name.as_slice(), file.file_name.as_slice()),
        (&b"f"[..], &b"x.php"[..])
    );
    assert_eq!(file.content, b"<?php ?>");
    assert_eq!(file.size, 8);
    assert_eq!(file.content_type.as_deref(), Some(&b"text/plain"[..]));
    let facts = parsed.multipart.unwrap();
    assert!(!facts.strict_error(false));
    assert_eq!(facts.unmatched_boundary, 2);
    assert_eq!(facts.names, vec![b"a".to_vec(), b"f".to_vec()]);
    assert!(
        facts
            .part_headers
            .contains(&(b"f".to_vec(), b"Content-Type: text/plain".to_vec()))
    );
}

#[test]
fn lf_lines_and_mixed_endings() {
    let parsed = parse("--XyZ\nContent-Disposition: form-data; name=a\n\nv\n--XyZ--\n");
    let facts = parsed.multipart.unwrap();
    assert!(facts.lf_line && !facts.crlf_lf_lines && facts.strict_error(false));
    assert_eq!(parsed.args[0].1, b"v");
    let mixed = parse("--XyZ\r\nContent-Disposition: form-data; name=a\n\r\nv\r\n--XyZ--\r\n");
    assert!(mixed.multipart.unwrap().crlf_lf_lines);
}

#[test]
fn data_before_and_after() {
    let parsed = parse(&crlf(
        "junk\n--XyZ\nContent-Disposition: form-data; name=a\n\nv\n--XyZ--\ntrailer",
    ));
    let facts = parsed.multipart.unwrap();
    assert!(facts.data_before && facts.data_after);
    assert_eq!(parsed.error, None);
}

#[test]
fn header_folding() {
    let parsed = parse(&crlf(
        "--XyZ\nContent-Disposition: form-data;\n name=a\n\nv\n--XyZ--\n",
    ));
    assert_eq!(parsed.error, None);
    assert_eq!(parsed.args[0].0, b"a");
    let facts = parsed.multipart.unwrap();
    assert!(facts.header_folding && !facts.invalid_header_folding);
    let invalid = parse(&crlf(
        "--XyZ\nContent-Disposition: form-data;\n\x0bname=a\n\nv\n--XyZ--\n",
    ));
    assert!(invalid.multipart.unwrap().invalid_header_folding);
    let orphan = parse(&crlf("--XyZ\n folded\n\nv\n--XyZ--\n"));
    assert!(orphan.error.unwrap().contains("folding error"));
}

#[test]
fn unmatched_and_invalid_boundaries() {
    let parsed = parse(&crlf(
        "--XyZ\nContent-Disposition: form-data; name=a\n\n--other\n--XyZ--\n",
    ));
    assert_eq!(parsed.multipart.unwrap().unmatched_boundary, 2);
    let once = parse(&crlf(
        "--XyZ\nContent-Disposition: form-data; name=a\n\n--other\n--XyZ--\n",
    ));
    assert_eq!(once.args[0].1, b"--other");
    let garbage = parse(&crlf(
        "--XyZ\nContent-Disposition: form-data; name=a\n\nv\n--XyZjunk\n--XyZ--\n",
    ));
    assert!(garbage.error.unwrap().contains("Invalid boundary"));
    let spaced = parse(&crlf(
        "--XyZ\nContent-Disposition: form-data; name=a\n\nv\n-- XyZ\n--XyZ--\n",
    ));
    assert!(spaced.error.unwrap().contains("whitespace"));
}

#[test]
fn missing_pieces_are_errors() {
    let no_final = parse(&crlf(
        "--XyZ\nContent-Disposition: form-data; name=a\n\nv\n",
    ));
    assert_eq!(
        no_final.error.as_deref(),
        Some("Multipart: Final boundary missing.")
    );
    assert!(
        parse("no boundary at all")
            .error
            .unwrap()
            .contains("No boundaries")
    );
    let no_cd = parse(&crlf("--XyZ\nContent-Type: text/plain\n\nv\n--XyZ--\n"));
    assert!(no_cd.error.unwrap().contains("Content-Disposition"));
    let no_colon = parse(&crlf("--XyZ\nbroken header\n\nv\n--XyZ--\n"));
    assert!(no_colon.error.unwrap().contains("colon missing"));
    let nul =
        parse("--XyZ\r\nContent-Disposition: form-data; name=\"a\0\"\r\n\r\nv\r\n--XyZ--\r\n");
    assert!(nul.error.unwrap().contains("Nul byte"));
    let duplicate = parse(&crlf(
        "--XyZ\nContent-Disposition: form-data; name=a\ncontent-disposition: form-data; name=b\n\nv\n--XyZ--\n",
    ));
    assert!(duplicate.error.unwrap().contains("Duplicate"));
}

#[test]
fn empty_part_is_invalid_and_final_without_eol_is_accepted() {
    let parsed = parse(&crlf(
        "--XyZ\n--XyZ\nContent-Disposition: form-data; name=a\n\nv\n--XyZ--",
    ));
    assert_eq!(parsed.error, None);
    assert!(parsed.multipart.unwrap().invalid_part);
    assert_eq!(parsed.args.len(), 1);
}

#[test]
fn limits_and_bad_content_type() {
    let limits = BodyLimits {
        max_args: 1,
        ..BodyLimits::default()
    };
    let body = crlf(
        "--XyZ\nContent-Disposition: form-data; name=a\n\n1\n--XyZ\nContent-Disposition: form-data; name=b\n\n2\n--XyZ--\n",
    );
    let parsed = multipart(body.as_bytes(), CT, &limits);
    assert!(parsed.error.unwrap().contains("too many"));
    let limits = BodyLimits {
        max_part_header_bytes: 40,
        ..BodyLimits::default()
    };
    let long = crlf(&format!(
        "--XyZ\nContent-Disposition: form-data; name={}\n\nv\n--XyZ--\n",
        "a".repeat(60)
    ));
    assert!(
        multipart(long.as_bytes(), CT, &limits)
            .error
            .unwrap()
            .contains("bytes long")
    );
    let bad = multipart(b"--x--", b"multipart/form-data", &BodyLimits::default());
    assert!(bad.error.is_some() && bad.multipart.is_some());
}
