//! Request body processors (URL-encoded, multipart, JSON, XML) that turn a body into WAF variables.
//!
//! Each processor is a pure function from bytes to a [`ParsedBody`]; none panics or
//! allocates without bound on hostile input (limits come from [`BodyLimits`]). A body that
//! cannot be parsed still yields what was parsed before the fault, plus `error`
//! (ModSecurity's `REQBODY_ERROR` / `REQBODY_ERROR_MSG`).

mod json;
mod multipart;
mod multipart_boundary;
mod multipart_disposition;
#[cfg(test)]
mod multipart_tests;
#[cfg(test)]
mod mutation_tests;
mod urlencoded;
mod xml;

pub use json::json;
pub use multipart::{FilePart, MultipartFacts, multipart};
pub use urlencoded::urlencoded;
pub use xml::{XmlDoc, xml};

/// Bounds applied while parsing (ModSecurity: `SecArgumentsLimit`,
/// `SecRequestBodyJsonDepthLimit`, libxml2's depth limit, part header size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Arguments kept; past it parsing stops with `error` set.
    pub max_args: usize,
    /// Nesting of JSON objects/arrays; deeper is an `error`.
    pub json_depth: usize,
    /// Nesting of XML elements; deeper is an `error`.
    pub xml_depth: usize,
    /// Bytes of one multipart part's header block; larger is an `error`.
    pub max_part_header_bytes: usize,
}

impl Default for BodyLimits {
    /// The CRS regression suite's settings.
    fn default() -> Self {
        Self {
            max_args: 1000,
            json_depth: 512,
            xml_depth: 256,
            max_part_header_bytes: 8192,
        }
    }
}

/// What a body processor extracted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedBody {
    /// `ARGS_POST` names and values in order, names as ModSecurity names them (JSON: `json.a.b`).
    pub args: Vec<(Vec<u8>, Vec<u8>)>,
    /// File parts of a multipart body (`FILES`, `FILES_NAMES`, `FILES_SIZES`, `FILES_TMP_CONTENT`).
    pub files: Vec<FilePart>,
    /// Multipart facts: every `MULTIPART_*` flag, `MULTIPART_PART_HEADERS`, `MULTIPART_STRICT_ERROR`.
    pub multipart: Option<MultipartFacts>,
    /// The XML document, for `XML:/*` and `XML://@*`.
    pub xml: Option<XmlDoc>,
    /// `REQBODY_ERROR_MSG`; `Some` means `REQBODY_ERROR` = 1.
    pub error: Option<String>,
    /// `URLENCODED_ERROR`: a name or value held an invalid `%` escape (not a body error).
    pub urlencoded_error: bool,
}

impl ParsedBody {
    /// Adds an argument unless the limit is reached; `false` (and `error` set) when it was.
    fn push_arg(&mut self, name: Vec<u8>, value: Vec<u8>, limits: &BodyLimits) -> bool {
        if self.args.len() >= limits.max_args {
            self.error
                .get_or_insert_with(|| format!("too many arguments (limit {})", limits.max_args));
            return false;
        }
        self.args.push((name, value));
        true
    }
}
