//! XML bodies (`text/xml`, `application/xml`, `application/soap+xml`) for `XML:/*` and `XML://@*`.

/// What the XML processor keeps of a well-formed document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlDoc {
    /// Text and CDATA nodes in document order, entities decoded (`XML:/*` is their concatenation).
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
