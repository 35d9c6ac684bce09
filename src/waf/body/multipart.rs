//! `multipart/form-data` bodies with ModSecurity's strict checks (`MULTIPART_*` flags).

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
    /// `MULTIPART_FILE_LIMIT_EXCEEDED`: more file parts than allowed.
    pub file_limit_exceeded: bool,
    /// `MULTIPART_UNMATCHED_BOUNDARY`: a line looked like a boundary but was not ours.
    pub unmatched_boundary: bool,
    /// `MULTIPART_PART_HEADERS`: `(part name, "Header: value")`, one per header line.
    pub part_headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// `MULTIPART_NAME`: every part's field name, in order.
    pub names: Vec<Vec<u8>>,
    /// `MULTIPART_FILENAME`: every part's file name, in order.
    pub file_names: Vec<Vec<u8>>,
}
