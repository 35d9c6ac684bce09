//! XML bodies (`text/xml`, `application/xml`, `application/soap+xml`) for `XML:/*` and `XML://@*`.
//!
//! quick-xml reads the document as events; this keeps text (and CDATA) inside the root
//! element and every attribute value, checks well-formedness the way libxml2 would refuse a
//! document (unbalanced or extra elements, text outside the root) and bounds nesting. No
//! DTD or external entity is ever loaded: an undeclared entity reference stays as written.

use super::{BodyLimits, ParsedBody};
use quick_xml::Reader;
use quick_xml::events::Event;

/// What the XML processor keeps of a well-formed document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlDoc {
    /// Text and CDATA nodes inside the root element in document order, entities decoded
    /// (`XML:/*` is their concatenation).
    pub text_nodes: Vec<Vec<u8>>,
    /// Every attribute value in document order, entities decoded (`XML://@*`).
    pub attribute_values: Vec<Vec<u8>>,
}

impl XmlDoc {
    /// The root element's string value (`XML:/*`): all text nodes concatenated.
    pub fn root_text(&self) -> Vec<u8> {
        self.text_nodes.concat()
    }
}

pub fn xml(body: &[u8], limits: &BodyLimits) -> ParsedBody {
    let mut doc = XmlDoc::default();
    let outcome = read(body, limits, &mut doc);
    ParsedBody {
        error: outcome
            .err()
            .map(|message| format!("XML parsing error: {message}")),
        xml: Some(doc),
        ..ParsedBody::default()
    }
}

fn read(body: &[u8], limits: &BodyLimits, doc: &mut XmlDoc) -> Result<(), String> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut depth = 0usize;
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} at byte {}", reader.buffer_position()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if depth == 0 && seen_root => {
                let _ = start;
                return Err("Extra content at the end of the document".into());
            }
            Event::Start(start) => {
                depth += 1;
                seen_root = true;
                if depth > limits.xml_depth {
                    return Err(format!("depth limit {} exceeded", limits.xml_depth));
                }
                attributes(&start, doc)?;
            }
            Event::Empty(start) => {
                seen_root = true;
                attributes(&start, doc)?;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(text) => {
                if depth == 0 {
                    if !text.iter().all(u8::is_ascii_whitespace) {
                        return Err("text outside the root element".into());
                    }
                } else {
                    push_text(doc, &text);
                }
            }
            Event::CData(data) => {
                if depth == 0 {
                    return Err("CDATA outside the root element".into());
                }
                push_text(doc, &data);
            }
            Event::GeneralRef(reference) => {
                if depth == 0 {
                    return Err("entity reference outside the root element".into());
                }
                let decoded = match reference.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string().into_bytes(),
                    Ok(None) => {
                        let name = String::from_utf8_lossy(&reference);
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(text) => text.as_bytes().to_vec(),
                            None => format!("&{name};").into_bytes(),
                        }
                    }
                    Err(e) => return Err(e.to_string()),
                };
                push_text(doc, &decoded);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if depth > 0 {
        return Err("Premature end of data: unclosed element".into());
    }
    if !seen_root {
        return Err("Start tag expected: no root element".into());
    }
    Ok(())
}

/// Adjacent text, CDATA and references form one text node, as in the DOM.
fn push_text(doc: &mut XmlDoc, text: &[u8]) {
    doc.text_nodes.push(text.to_vec());
}

fn attributes(start: &quick_xml::events::BytesStart, doc: &mut XmlDoc) -> Result<(), String> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let value = match attribute.normalized_value(quick_xml::XmlVersion::default()) {
            Ok(text) => text.as_bytes().to_vec(),
            // An undeclared entity: keep the value as written rather than refuse the body.
            Err(_) => attribute.value.to_vec(),
        };
        doc.attribute_values.push(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> ParsedBody {
        xml(body.as_bytes(), &BodyLimits::default())
    }

    #[test]
    fn text_and_attributes() {
        let parsed = parse(
            "<?xml version=\"1.0\"?>\n<!-- c --><a x=\"1&amp;2\"><b y='z'>hi &lt;there&gt;</b><![CDATA[<raw>]]><c/>&#65;&xxe;</a>\n",
        );
        assert_eq!(parsed.error, None);
        let doc = parsed.xml.unwrap();
        assert_eq!(doc.root_text(), b"hi <there><raw>A&xxe;");
        assert_eq!(doc.attribute_values, vec![b"1&2".to_vec(), b"z".to_vec()]);
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            "<a><b></a>",
            "<a>",
            "<a></a><b></b>",
            "text<a/>",
            "",
            "<a x=1/>",
            "<a></b>",
        ] {
            assert!(parse(bad).error.is_some(), "{bad:?}");
        }
    }

    #[test]
    fn depth_limit() {
        let limits = BodyLimits {
            xml_depth: 2,
            ..BodyLimits::default()
        };
        assert!(xml(b"<a><b/></a>", &limits).error.is_none());
        assert!(xml(b"<a><b><c/></b></a>", &limits).error.is_none());
        assert!(
            xml(b"<a><b><c></c></b></a>", &limits)
                .error
                .unwrap()
                .contains("depth")
        );
        let deep = "<a>".repeat(100_000);
        assert!(parse(&deep).error.is_some());
    }
}
