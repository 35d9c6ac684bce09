//! Rule targets: which variable or collection a rule reads, and which keys.

use crate::waf::seclang::{SelectorSpec, TargetSpec};
use regex::bytes::Regex;

macro_rules! collections {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// Every variable and collection the engine knows, by SecLang name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Collection { $($variant),* }

        impl Collection {
            pub fn from_name(name: &str) -> Option<Self> {
                // Names are mostly written upper-case already: no allocation then.
                match name {
                    $($name => return Some(Self::$variant),)*
                    _ => {}
                }
                match name.to_ascii_uppercase().as_str() {
                    $($name => Some(Self::$variant),)*
                    _ => None,
                }
            }

            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
        }
    };
}

collections! {
    Args => "ARGS",
    ArgsGet => "ARGS_GET",
    ArgsPost => "ARGS_POST",
    ArgsNames => "ARGS_NAMES",
    ArgsGetNames => "ARGS_GET_NAMES",
    ArgsPostNames => "ARGS_POST_NAMES",
    ArgsCombinedSize => "ARGS_COMBINED_SIZE",
    RequestHeaders => "REQUEST_HEADERS",
    RequestHeadersNames => "REQUEST_HEADERS_NAMES",
    RequestCookies => "REQUEST_COOKIES",
    RequestCookiesNames => "REQUEST_COOKIES_NAMES",
    RequestFilename => "REQUEST_FILENAME",
    RequestBasename => "REQUEST_BASENAME",
    RequestLine => "REQUEST_LINE",
    RequestUri => "REQUEST_URI",
    RequestUriRaw => "REQUEST_URI_RAW",
    RequestMethod => "REQUEST_METHOD",
    RequestProtocol => "REQUEST_PROTOCOL",
    QueryString => "QUERY_STRING",
    RequestBody => "REQUEST_BODY",
    RequestBodyLength => "REQUEST_BODY_LENGTH",
    ReqbodyProcessor => "REQBODY_PROCESSOR",
    ReqbodyError => "REQBODY_ERROR",
    ReqbodyErrorMsg => "REQBODY_ERROR_MSG",
    ReqbodyProcessorError => "REQBODY_PROCESSOR_ERROR",
    Files => "FILES",
    FilesNames => "FILES_NAMES",
    FilesSizes => "FILES_SIZES",
    FilesCombinedSize => "FILES_COMBINED_SIZE",
    FilesTmpContent => "FILES_TMP_CONTENT",
    FilesTmpNames => "FILES_TMPNAMES",
    MultipartPartHeaders => "MULTIPART_PART_HEADERS",
    MultipartStrictError => "MULTIPART_STRICT_ERROR",
    MultipartUnmatchedBoundary => "MULTIPART_UNMATCHED_BOUNDARY",
    MultipartBoundaryQuoted => "MULTIPART_BOUNDARY_QUOTED",
    MultipartBoundaryWhitespace => "MULTIPART_BOUNDARY_WHITESPACE",
    MultipartDataBefore => "MULTIPART_DATA_BEFORE",
    MultipartDataAfter => "MULTIPART_DATA_AFTER",
    MultipartHeaderFolding => "MULTIPART_HEADER_FOLDING",
    MultipartLfLine => "MULTIPART_LF_LINE",
    MultipartMissingSemicolon => "MULTIPART_MISSING_SEMICOLON",
    MultipartInvalidQuoting => "MULTIPART_INVALID_QUOTING",
    MultipartInvalidPart => "MULTIPART_INVALID_PART",
    MultipartInvalidHeaderFolding => "MULTIPART_INVALID_HEADER_FOLDING",
    MultipartFileLimitExceeded => "MULTIPART_FILE_LIMIT_EXCEEDED",
    MultipartCrlfLfLines => "MULTIPART_CRLF_LF_LINES",
    MultipartFilename => "MULTIPART_FILENAME",
    MultipartName => "MULTIPART_NAME",
    Xml => "XML",
    ResponseBody => "RESPONSE_BODY",
    ResponseHeaders => "RESPONSE_HEADERS",
    ResponseHeadersNames => "RESPONSE_HEADERS_NAMES",
    ResponseStatus => "RESPONSE_STATUS",
    ResponseProtocol => "RESPONSE_PROTOCOL",
    ResponseContentType => "RESPONSE_CONTENT_TYPE",
    ResponseContentLength => "RESPONSE_CONTENT_LENGTH",
    StatusLine => "STATUS_LINE",
    Tx => "TX",
    Ip => "IP",
    Global => "GLOBAL",
    Session => "SESSION",
    User => "USER",
    Resource => "RESOURCE",
    Env => "ENV",
    Rule => "RULE",
    MatchedVar => "MATCHED_VAR",
    MatchedVarName => "MATCHED_VAR_NAME",
    MatchedVars => "MATCHED_VARS",
    MatchedVarsNames => "MATCHED_VARS_NAMES",
    UniqueId => "UNIQUE_ID",
    RemoteAddr => "REMOTE_ADDR",
    RemotePort => "REMOTE_PORT",
    RemoteHost => "REMOTE_HOST",
    RemoteUser => "REMOTE_USER",
    ServerAddr => "SERVER_ADDR",
    ServerName => "SERVER_NAME",
    ServerPort => "SERVER_PORT",
    AuthType => "AUTH_TYPE",
    HighestSeverity => "HIGHEST_SEVERITY",
    InboundDataError => "INBOUND_DATA_ERROR",
    OutboundDataError => "OUTBOUND_DATA_ERROR",
    UrlencodedError => "URLENCODED_ERROR",
    FullRequest => "FULL_REQUEST",
    FullRequestLength => "FULL_REQUEST_LENGTH",
    Duration => "DURATION",
    TimeEpoch => "TIME_EPOCH",
    Time => "TIME",
    Geo => "GEO",
    Webserver => "WEBSERVER_ERROR_LOG",
}

impl Collection {
    /// Whether the collection's keys are compared case-sensitively (none of
    /// ModSecurity's are, except XML's XPath).
    pub fn is_keyed(self) -> bool {
        matches!(
            self,
            Self::Args
                | Self::ArgsGet
                | Self::ArgsPost
                | Self::ArgsNames
                | Self::ArgsGetNames
                | Self::ArgsPostNames
                | Self::RequestHeaders
                | Self::RequestHeadersNames
                | Self::RequestCookies
                | Self::RequestCookiesNames
                | Self::Files
                | Self::FilesNames
                | Self::FilesSizes
                | Self::FilesTmpContent
                | Self::FilesTmpNames
                | Self::MultipartPartHeaders
                | Self::ResponseHeaders
                | Self::ResponseHeadersNames
                | Self::Tx
                | Self::Ip
                | Self::Global
                | Self::Session
                | Self::User
                | Self::Resource
                | Self::Env
                | Self::Rule
                | Self::MatchedVars
                | Self::MatchedVarsNames
                | Self::Xml
                | Self::Geo
        )
    }
}

#[derive(Debug, Clone)]
pub enum Selector {
    All,
    /// Lower-cased key (XPath for `XML`, kept as written).
    Key(String),
    Regex(Regex),
}

/// A compiled target (or, in `Rule::exclusions`, a target to remove).
#[derive(Debug, Clone)]
pub struct Target {
    pub collection: Collection,
    pub selector: Selector,
    pub count: bool,
}

impl Target {
    pub fn compile(spec: &TargetSpec) -> Result<Self, String> {
        let collection = Collection::from_name(&spec.collection)
            .ok_or_else(|| format!("unknown variable {}", spec.collection))?;
        let selector = match &spec.selector {
            None => Selector::All,
            Some(SelectorSpec::Key(k)) if collection == Collection::Xml => Selector::Key(k.clone()),
            Some(SelectorSpec::Key(k)) => Selector::Key(k.to_ascii_lowercase()),
            Some(SelectorSpec::Regex(r)) => Selector::Regex(
                regex::bytes::RegexBuilder::new(r)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("bad selector regex /{r}/: {e}"))?,
            ),
        };
        if !matches!(selector, Selector::All) && !collection.is_keyed() {
            return Err(format!("{} takes no selector", collection.name()));
        }
        Ok(Self {
            collection,
            selector,
            count: spec.count,
        })
    }

    /// Whether `key` (as stored) is selected.
    pub fn selects(&self, key: &[u8]) -> bool {
        match &self.selector {
            Selector::All => true,
            Selector::Key(k) => key.eq_ignore_ascii_case(k.as_bytes()),
            Selector::Regex(r) => r.is_match(key),
        }
    }

    /// Whether this exclusion removes values of `collection` with `key`.
    pub fn excludes(&self, collection: Collection, key: &[u8]) -> bool {
        self.collection == collection && self.selects(key)
    }
}
