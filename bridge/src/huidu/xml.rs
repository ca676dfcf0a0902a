//! The XML inside SDK packets: a small element tree, written in the layout
//! of the vendor's own examples (declaration line, four-space indent, `\n`
//! line ends, empty elements as `<x/>`), and read with `quick-xml`.
//!
//! It knows nothing of SDK methods (that is [`super::sdk`]).

use quick_xml::events::Event;
use quick_xml::Reader;
use thiserror::Error;

/// The declaration every SDK document starts with.
pub const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";

/// One element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Tag name.
    pub name: String,
    /// Attributes in document order.
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Text content (elements with children carry none here).
    pub text: Option<String>,
}

/// Why a document does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum XmlError {
    /// Not well-formed XML.
    #[error("the controller's answer is not well-formed XML: {0}")]
    Malformed(String),
    /// No root element.
    #[error("the controller's answer has no root element")]
    Empty,
}

impl Element {
    /// An element named `name`.
    pub fn new(name: &str) -> Element {
        Element {
            name: name.to_owned(),
            ..Element::default()
        }
    }

    /// With an attribute appended.
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Element {
        self.attrs.push((name.to_owned(), value.into()));
        self
    }

    /// With a child appended.
    pub fn child(mut self, child: Element) -> Element {
        self.children.push(child);
        self
    }

    /// With text content.
    pub fn text(mut self, text: &str) -> Element {
        self.text = Some(text.to_owned());
        self
    }

    /// The value of attribute `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child named `name`.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn find_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Every descendant named `name`, depth first.
    pub fn descendants<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        for child in &self.children {
            if child.name == name {
                out.push(child);
            }
            child.descendants(name, out);
        }
    }

    fn write(&self, indent: usize, out: &mut String) {
        out.push_str(&" ".repeat(indent));
        out.push('<');
        out.push_str(&self.name);
        for (name, value) in &self.attrs {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            escape_into(value, true, out);
            out.push('"');
        }
        match (&self.text, self.children.is_empty()) {
            (None, true) => out.push_str("/>\n"),
            (Some(text), true) => {
                out.push('>');
                escape_into(text, false, out);
                out.push_str("</");
                out.push_str(&self.name);
                out.push_str(">\n");
            }
            (_, false) => {
                out.push_str(">\n");
                for child in &self.children {
                    child.write(indent + 4, out);
                }
                out.push_str(&" ".repeat(indent));
                out.push_str("</");
                out.push_str(&self.name);
                out.push_str(">\n");
            }
        }
    }

    /// The element as a document: the declaration line, then the element.
    pub fn to_document(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str(DECLARATION);
        out.push('\n');
        self.write(0, &mut out);
        out
    }
}

fn escape_into(text: &str, attribute: bool, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
}

/// Parses a document into its root element.
pub fn parse(document: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(document);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let malformed = |e: &dyn std::fmt::Display| XmlError::Malformed(e.to_string());
    let element_of = |start: &quick_xml::events::BytesStart<'_>| -> Result<Element, XmlError> {
        let mut element = Element::new(&String::from_utf8_lossy(start.name().as_ref()));
        for attr in start.attributes() {
            let attr = attr.map_err(|e| malformed(&e))?;
            let value = attr.unescape_value().map_err(|e| malformed(&e))?;
            element.attrs.push((
                String::from_utf8_lossy(attr.key.as_ref()).into_owned(),
                value.into_owned(),
            ));
        }
        Ok(element)
    };
    loop {
        match reader.read_event().map_err(|e| malformed(&e))? {
            Event::Start(start) => stack.push(element_of(&start)?),
            Event::Empty(start) => {
                let element = element_of(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => {}
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".to_owned()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => {}
                }
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|e| malformed(&e))?;
                if let Some(current) = stack.last_mut() {
                    if !text.trim().is_empty() {
                        current.text.get_or_insert_with(String::new).push_str(&text);
                    }
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current
                        .text
                        .get_or_insert_with(String::new)
                        .push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed(format!(
            "element <{}> is not closed",
            stack.last().map(|e| e.name.as_str()).unwrap_or("?")
        )));
    }
    root.ok_or(XmlError::Empty)
}
