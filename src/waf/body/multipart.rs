//! `multipart/form-data` bodies with ModSecurity's strict checks (`MULTIPART_*` flags).
//!
//! Line-oriented like ModSecurity v3: boundary lines must be exact, part headers need
//! `Content-Disposition: form-data; name=...`, the line end before a boundary belongs to the
//! boundary, and every irregularity ModSecurity flags is flagged. Where v3 has known slips
//! (a reserved CRLF dropped between value lines, header errors not stopping the parse) we
//! follow its intent instead.

use super::multipart_boundary::{self, find};
use super::multipart_disposition::parse_content_disposition;
use super::{BodyLimits, ParsedBody};

/// One file part (`FILES` and friends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePart {
    /// The form field name (`FILES_NAMES`).
    pub field_name: Vec<u8>,
    /// The client's file name (`FILES`).
    pub file_name: Vec<u8>,
    /// The part's `Content-Type`, if sent.
    pub content_type: Option<Vec<u8>>,
    /// Size of the content in bytes (`FILES_SIZES`; their sum is `FILES_COMBINED_SIZE`).
    pub size: usize,
    /// The content (`FILES_TMP_CONTENT`).
    pub content: Vec<u8>,
}

/// Everything ModSecurity records about a multipart body beyond its arguments and files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultipartFacts {
    /// `MULTIPART_BOUNDARY_QUOTED`: the boundary parameter was quoted.
    pub boundary_quoted: bool,
    /// `MULTIPART_BOUNDARY_WHITESPACE`: the boundary holds whitespace.
    pub boundary_whitespace: bool,
    /// `MULTIPART_DATA_BEFORE`: bytes before the first boundary.
    pub data_before: bool,
    /// `MULTIPART_DATA_AFTER`: bytes after the closing boundary.
    pub data_after: bool,
    /// `MULTIPART_HEADER_FOLDING`: a part header was folded onto a continuation line.
    pub header_folding: bool,
    /// `MULTIPART_INVALID_HEADER_FOLDING`: a folded line used characters other than space/tab.
    pub invalid_header_folding: bool,
    /// `MULTIPART_LF_LINE`: a line ended with a bare LF.
    pub lf_line: bool,
    /// `MULTIPART_CRLF_LF_LINES`: both CRLF and bare-LF line ends were seen.
    pub crlf_lf_lines: bool,
    /// `MULTIPART_MISSING_SEMICOLON`: `Content-Disposition` parameters not separated by `;`.
    pub missing_semicolon: bool,
    /// `MULTIPART_INVALID_QUOTING`: a quoted parameter was malformed.
    pub invalid_quoting: bool,
    /// `MULTIPART_INVALID_PART`: a part had no usable `Content-Disposition` or was malformed.
    pub invalid_part: bool,
    /// `MULTIPART_FILE_LIMIT_EXCEEDED`: ModSecurity sets it only when it extracts files to
    /// disk past `SecUploadFileLimit`; nothing is extracted here, so it stays false (the
    /// number of parts is bounded by `BodyLimits::max_args` instead).
    pub file_limit_exceeded: bool,
    /// `MULTIPART_UNMATCHED_BOUNDARY`, as ModSecurity v3 sets it: 1 when a line looked like a
    /// boundary but was not ours, 2 when our boundary was seen again after the first (so
    /// `!@eq 0` catches both and `@eq 1` only the suspicious case), else 0.
    pub unmatched_boundary: u8,
    /// `MULTIPART_PART_HEADERS`: `(part name, "Header: value")`, one per header line.
    pub part_headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// `MULTIPART_NAME`: every part's field name, in order.
    pub names: Vec<Vec<u8>>,
    /// `MULTIPART_FILENAME`: every part's file name, in order.
    pub file_names: Vec<Vec<u8>>,
}

impl MultipartFacts {
    /// `MULTIPART_STRICT_ERROR` for a body whose parse ended with `body_error` (`REQBODY_ERROR`).
    pub fn strict_error(&self, body_error: bool) -> bool {
        body_error
            || self.boundary_quoted
            || self.boundary_whitespace
            || self.data_before
            || self.data_after
            || self.header_folding
            || self.lf_line
            || self.missing_semicolon
            || self.invalid_quoting
            || self.invalid_part
            || self.invalid_header_folding
            || self.file_limit_exceeded
    }
}

/// Parses a multipart body; `content_type` is the request's whole Content-Type value.
pub fn multipart(body: &[u8], content_type: &[u8], limits: &BodyLimits) -> ParsedBody {
    let mut facts = MultipartFacts::default();
    let boundary = match multipart_boundary::parse(content_type, &mut facts) {
        Ok(boundary) => boundary,
        Err(message) => {
            return ParsedBody {
                multipart: Some(facts),
                error: Some(message),
                ..ParsedBody::default()
            };
        }
    };
    let mut parser = Parser {
        boundary: &boundary,
        limits,
        facts,
        parsed: ParsedBody::default(),
        part: None,
        saw_crlf: false,
        boundaries_seen: 0,
        complete: false,
    };
    if let Err(message) = parser.run(body) {
        parser.parsed.error = Some(message);
    }
    parser.facts.crlf_lf_lines = parser.saw_crlf && parser.facts.lf_line;
    parser.parsed.multipart = Some(parser.facts);
    parser.parsed
}

/// The part being read: its headers until the empty line, then its data.
#[derive(Default)]
pub(super) struct Part {
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    header_bytes: usize,
    in_data: bool,
    pub(super) name: Vec<u8>,
    pub(super) file_name: Vec<u8>,
    data: Vec<u8>,
}

struct Parser<'a> {
    boundary: &'a [u8],
    limits: &'a BodyLimits,
    facts: MultipartFacts,
    parsed: ParsedBody,
    part: Option<Part>,
    saw_crlf: bool,
    boundaries_seen: usize,
    complete: bool,
}

impl Parser<'_> {
    fn run(&mut self, body: &[u8]) -> Result<(), String> {
        let mut pos = 0;
        while pos < body.len() {
            if self.complete {
                self.facts.data_after = true;
                return Ok(());
            }
            let end = memchr::memchr(b'\n', &body[pos..]).map_or(body.len(), |i| pos + i + 1);
            let line = &body[pos..end];
            pos = end;
            if !self.boundary_line(line)? {
                self.data_line(line)?;
            }
        }
        if self.complete {
            Ok(())
        } else if self.boundaries_seen > 0 {
            Err("Multipart: Final boundary missing.".into())
        } else {
            Err("Multipart: No boundaries found in payload.".into())
        }
    }

    /// `true` when `line` was one of our boundaries (and handled).
    fn boundary_line(&mut self, line: &[u8]) -> Result<bool, String> {
        let boundary = self.boundary;
        if !(line.len() > 3 && line.starts_with(b"--")) {
            if contains_dashed(line, boundary) {
                self.facts.unmatched_boundary = 1;
            }
            return Ok(false);
        }
        if !line[2..].starts_with(boundary) {
            if self.facts.boundary_quoted && line[2] == b'"' && line[3..].starts_with(boundary) {
                return Err("Multipart: Invalid boundary (quotes).".into());
            }
            let spaces = line[2..].iter().take_while(|b| is_space(**b)).count();
            if spaces > 0 && line[2 + spaces..].starts_with(boundary) {
                return Err("Multipart: Invalid boundary (whitespace).".into());
            }
            self.facts.unmatched_boundary = 1;
            return Ok(false);
        }
        if self.boundaries_seen > 0 {
            self.facts.unmatched_boundary = 2;
        }
        let mut rest = &line[2 + boundary.len()..];
        let is_final = rest.starts_with(b"--");
        if is_final {
            rest = &rest[2..];
        }
        match rest {
            b"\r\n" => self.saw_crlf = true,
            b"\n" => self.facts.lf_line = true,
            // The body's last line, without a line end: only a final boundary may end there.
            b"" if is_final => {}
            _ if !line.ends_with(b"\n") => return Ok(false),
            _ => {
                return Err(format!(
                    "Multipart: Invalid boundary: {}",
                    String::from_utf8_lossy(line).trim_end()
                ));
            }
        }
        self.finish_part()?;
        if is_final {
            self.complete = true;
        } else {
            self.part = Some(Part::default());
        }
        self.boundaries_seen += 1;
        Ok(true)
    }

    fn data_line(&mut self, line: &[u8]) -> Result<(), String> {
        let Some(part) = self.part.as_mut() else {
            self.facts.data_before = true;
            return Ok(());
        };
        if part.in_data {
            part.data.extend_from_slice(line);
            return Ok(());
        }
        self.header_line(line)
    }

    fn header_line(&mut self, line: &[u8]) -> Result<(), String> {
        let limit = self.limits.max_part_header_bytes;
        let Some(part) = self.part.as_mut() else {
            return Ok(());
        };
        if line.contains(&0) {
            return Err("Multipart: Nul byte in part headers.".into());
        }
        if line.len() > limit {
            return Err(format!(
                "Multipart: Part header line over {limit} bytes long"
            ));
        }
        if line.len() > 1 && line[line.len() - 2] == b'\r' {
            self.saw_crlf = true;
        } else {
            self.facts.lf_line = true;
        }
        if line == b"\r\n" || line == b"\n" {
            return self.end_of_headers();
        }
        part.header_bytes += line.len();
        if part.header_bytes > limit {
            return Err("Multipart: Part header too long.".into());
        }
        if is_space(line[0]) {
            self.facts.header_folding = true;
            let spaces = line.iter().take_while(|b| is_space(**b)).count();
            if line[..spaces].iter().any(|b| *b != b' ' && *b != b'\t') {
                self.facts.invalid_header_folding = true;
            }
            let Some((_, value)) = part.headers.last_mut() else {
                return Err("Multipart: Invalid part header (folding error).".into());
            };
            value.push(b' ');
            value.extend_from_slice(chomp(&line[spaces..]));
            return Ok(());
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return Err(format!(
                "Multipart: Invalid part header (colon missing): {}",
                String::from_utf8_lossy(chomp(line))
            ));
        };
        if colon == 0 {
            return Err("Multipart: Invalid part header (header name missing).".into());
        }
        let name = &line[..colon];
        let value_start = colon
            + 1
            + line[colon + 1..]
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
        if part
            .headers
            .iter()
            .any(|(existing, _)| existing.eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "Multipart: Duplicate part header: {}.",
                String::from_utf8_lossy(name)
            ));
        }
        part.headers
            .push((name.to_vec(), chomp(&line[value_start..]).to_vec()));
        Ok(())
    }

    fn end_of_headers(&mut self) -> Result<(), String> {
        let Some(part) = self.part.as_mut() else {
            return Ok(());
        };
        let Some(disposition) = part
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(b"content-disposition"))
            .map(|(_, value)| value.clone())
        else {
            return Err("Multipart: Part missing Content-Disposition header.".into());
        };
        if let Err(code) = parse_content_disposition(&disposition, part, &mut self.facts) {
            return Err(format!(
                "Multipart: Invalid Content-Disposition header ({code}): {}",
                String::from_utf8_lossy(&disposition)
            ));
        }
        if part.name.is_empty() {
            return Err("Multipart: Content-Disposition header missing name field.".into());
        }
        if !part.file_name.is_empty() && find(&disposition, b"filename=").is_none() {
            return Err("Multipart: Invalid Content-Disposition header (filename).".into());
        }
        for (name, value) in &part.headers {
            let mut line = Vec::with_capacity(name.len() + 2 + value.len());
            line.extend_from_slice(name);
            line.extend_from_slice(b": ");
            line.extend_from_slice(value);
            self.facts.part_headers.push((part.name.clone(), line));
        }
        part.in_data = true;
        Ok(())
    }

    fn finish_part(&mut self) -> Result<(), String> {
        let Some(mut part) = self.part.take() else {
            return Ok(());
        };
        if part.name.is_empty() {
            // A part that ended before its headers did.
            self.facts.invalid_part = true;
            return Ok(());
        }
        let data_end = part.data.len() - line_end_len(&part.data);
        part.data.truncate(data_end);
        if self.parsed.args.len() + self.parsed.files.len() >= self.limits.max_args {
            return Err(format!(
                "too many arguments (limit {})",
                self.limits.max_args
            ));
        }
        if part.file_name.is_empty() {
            self.parsed.args.push((part.name, part.data));
        } else {
            let content_type = part
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(b"content-type"))
                .map(|(_, value)| value.clone());
            self.parsed.files.push(FilePart {
                field_name: part.name,
                file_name: part.file_name,
                content_type,
                size: part.data.len(),
                content: part.data,
            });
        }
        Ok(())
    }
}

/// A line that holds `--boundary` somewhere (ModSecurity flags it as an unmatched boundary).
fn contains_dashed(line: &[u8], boundary: &[u8]) -> bool {
    memchr::memmem::find_iter(line, b"--").any(|at| line[at + 2..].starts_with(boundary))
}

fn line_end_len(data: &[u8]) -> usize {
    if data.ends_with(b"\r\n") {
        2
    } else {
        usize::from(data.ends_with(b"\n"))
    }
}

fn chomp(mut text: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = text {
        text = rest;
    }
    text
}

pub(super) fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t'..=b'\r')
}
