//! Resolves a rule target to the values it names in this transaction.

use super::data::{Pairs, RequestData, ResponseData};
use super::state::TxState;
use crate::waf::rule::{Collection, Selector, Target};
use std::borrow::Cow;

/// One value of a variable, with the key it was found under.
#[derive(Debug, Clone)]
pub struct Value<'a> {
    pub collection: Collection,
    /// Empty for scalar variables.
    pub key: Cow<'a, [u8]>,
    pub value: Cow<'a, [u8]>,
}

impl Value<'_> {
    /// `ARGS:foo`, `REQUEST_URI` (MATCHED_VAR_NAME's form).
    pub fn name(&self) -> String {
        let collection = self.collection.name();
        if self.key.is_empty() && !self.collection.is_keyed() {
            return collection.to_string();
        }
        let key = String::from_utf8_lossy(&self.key);
        let mut name = String::with_capacity(collection.len() + 1 + key.len());
        name.push_str(collection);
        name.push(':');
        name.push_str(&key);
        name
    }

    /// Whether the value lives in transaction state that actions change
    /// (TX, MATCHED_VAR, …): its address is no identity for a cache.
    pub fn is_state(&self) -> bool {
        use Collection as C;
        matches!(
            self.collection,
            C::Tx
                | C::Ip
                | C::Global
                | C::Session
                | C::User
                | C::Resource
                | C::Env
                | C::MatchedVar
                | C::MatchedVarName
                | C::MatchedVars
                | C::MatchedVarsNames
                | C::Rule
        )
    }
}

pub struct Sources<'a> {
    pub req: &'a RequestData,
    pub resp: &'a ResponseData,
    pub state: &'a TxState,
}

impl<'a> Sources<'a> {
    /// Appends the target's values (before exclusions) to `out`; `&TARGET`
    /// appends one value, the count.
    pub fn collect(&self, target: &Target, out: &mut Vec<Value<'a>>) {
        if target.count {
            let mut values = Vec::new();
            self.collect_values(target, &mut values);
            out.push(Value {
                collection: target.collection,
                key: Cow::Borrowed(b""),
                value: Cow::Owned(values.len().to_string().into_bytes()),
            });
        } else {
            self.collect_values(target, out);
        }
    }

    fn collect_values(&self, target: &Target, out: &mut Vec<Value<'a>>) {
        use Collection as C;
        let req = self.req;
        let c = target.collection;
        let pairs = |list: &'a Pairs, out: &mut Vec<Value<'a>>| {
            for (k, v) in list {
                if target.selects(k) {
                    out.push(borrowed(c, k, v));
                }
            }
        };
        let names = |list: &'a Pairs, out: &mut Vec<Value<'a>>| {
            for (k, _) in list {
                if target.selects(k) {
                    out.push(borrowed(c, k, k));
                }
            }
        };
        match c {
            C::Args => {
                pairs(&req.args_get, out);
                pairs(&req.args_post, out);
            }
            C::ArgsGet => pairs(&req.args_get, out),
            C::ArgsPost => pairs(&req.args_post, out),
            C::ArgsNames => {
                names(&req.args_get, out);
                names(&req.args_post, out);
            }
            C::ArgsGetNames => names(&req.args_get, out),
            C::ArgsPostNames => names(&req.args_post, out),
            C::ArgsCombinedSize => {
                let size: usize = req
                    .args_get
                    .iter()
                    .chain(&req.args_post)
                    .map(|(k, v)| k.len() + v.len())
                    .sum();
                out.push(number(c, size));
            }
            C::RequestHeaders => pairs(&req.headers, out),
            C::RequestHeadersNames => names(&req.headers, out),
            C::RequestCookies => pairs(&req.cookies, out),
            C::RequestCookiesNames => names(&req.cookies, out),
            C::ResponseHeaders => pairs(&self.resp.headers, out),
            C::ResponseHeadersNames => names(&self.resp.headers, out),
            C::RequestFilename => out.push(scalar(c, &req.filename)),
            C::RequestBasename => out.push(scalar(c, &req.basename)),
            C::RequestLine => out.push(scalar(c, &req.line)),
            C::RequestUri => out.push(scalar(c, &req.uri)),
            C::RequestUriRaw => out.push(scalar(c, &req.uri_raw)),
            C::RequestMethod => out.push(scalar(c, &req.method)),
            C::RequestProtocol => out.push(scalar(c, &req.protocol)),
            C::QueryString => out.push(scalar(c, &req.query)),
            C::RequestBody => {
                if !req.body.is_empty() {
                    out.push(scalar(c, &req.body))
                }
            }
            C::RequestBodyLength => out.push(number(c, req.body_length)),
            C::ReqbodyProcessor => {
                if let Some(p) = req.processor {
                    out.push(scalar(c, p.name().as_bytes()))
                }
            }
            C::ReqbodyError | C::ReqbodyProcessorError => {
                out.push(number(c, usize::from(req.body_error.is_some())))
            }
            C::ReqbodyErrorMsg => {
                if let Some(msg) = &req.body_error {
                    out.push(scalar(c, msg.as_bytes()))
                }
            }
            C::UrlencodedError => out.push(number(c, usize::from(req.urlencoded_error))),
            C::Files
            | C::FilesNames
            | C::FilesSizes
            | C::FilesCombinedSize
            | C::FilesTmpContent
            | C::FilesTmpNames
            | C::MultipartPartHeaders
            | C::Xml => super::body_vars::collect(req.parsed_body.as_ref(), target, out),
            C::MultipartStrictError
            | C::MultipartUnmatchedBoundary
            | C::MultipartBoundaryQuoted
            | C::MultipartBoundaryWhitespace
            | C::MultipartDataBefore
            | C::MultipartDataAfter
            | C::MultipartHeaderFolding
            | C::MultipartLfLine
            | C::MultipartMissingSemicolon
            | C::MultipartInvalidQuoting
            | C::MultipartInvalidPart
            | C::MultipartInvalidHeaderFolding
            | C::MultipartFileLimitExceeded
            | C::MultipartCrlfLfLines
            | C::MultipartFilename
            | C::MultipartName => {
                if req.processor == Some(crate::waf::rule::BodyProcessor::Multipart) {
                    super::body_vars::collect(req.parsed_body.as_ref(), target, out)
                }
            }
            C::ResponseBody => {
                if self.resp.body_seen {
                    out.push(scalar(c, &self.resp.body))
                }
            }
            C::ResponseStatus => {
                if self.resp.status != 0 {
                    out.push(number(c, usize::from(self.resp.status)))
                }
            }
            C::StatusLine => {
                if self.resp.status != 0 {
                    let line = format!(
                        "{} {}",
                        String::from_utf8_lossy(&self.resp.protocol),
                        self.resp.status
                    );
                    out.push(owned(c, b"", line.into_bytes()))
                }
            }
            C::ResponseProtocol => out.push(scalar(c, &self.resp.protocol)),
            C::ResponseContentType => {
                if let Some(v) = super::data::header(&self.resp.headers, "content-type") {
                    out.push(scalar(c, v))
                }
            }
            C::ResponseContentLength => {
                if let Some(v) = super::data::header(&self.resp.headers, "content-length") {
                    out.push(scalar(c, v))
                }
            }
            C::FullRequestLength => out.push(number(c, req.line.len() + req.body_length)),
            C::FullRequest => out.push(scalar(c, &req.line)),
            _ => self.state.collect(target, out),
        }
    }
}

pub fn borrowed<'a>(c: Collection, k: &'a [u8], v: &'a [u8]) -> Value<'a> {
    Value {
        collection: c,
        key: Cow::Borrowed(k),
        value: Cow::Borrowed(v),
    }
}

fn scalar(c: Collection, v: &[u8]) -> Value<'_> {
    Value {
        collection: c,
        key: Cow::Borrowed(b""),
        value: Cow::Borrowed(v),
    }
}

pub fn owned<'a>(c: Collection, k: &[u8], v: Vec<u8>) -> Value<'a> {
    Value {
        collection: c,
        key: Cow::Owned(k.to_vec()),
        value: Cow::Owned(v),
    }
}

pub fn number<'a>(c: Collection, n: usize) -> Value<'a> {
    owned(c, b"", n.to_string().into_bytes())
}

/// Whether `value` selected by `target`'s collection and key passes every exclusion.
pub fn excluded(exclusions: &[Target], value: &Value<'_>) -> bool {
    exclusions.iter().any(|x| {
        x.collection == value.collection
            && (matches!(x.selector, Selector::All) || x.selects(&value.key))
    })
}
