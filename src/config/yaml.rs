//! YAML → `serde_json::Value` with a path → (line, column) index, bounded against hostile input.
//!
//! We drive yaml-rust2's event parser ourselves (pull-style) instead of using
//! its `Yaml` tree so that every node keeps its source position, duplicate keys
//! are rejected, scalars follow the YAML 1.2 core schema, and alias expansion
//! and nesting are bounded before they can exhaust memory or the stack.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted, counting alias expansions.
pub const MAX_DEPTH: usize = 128;
/// Most nodes a document may expand to (aliases and anchors included).
pub const MAX_NODES: usize = 1_000_000;
/// Most scalar bytes a document may expand to (aliases and anchors included).
pub const MAX_SCALAR_BYTES: usize = 64 << 20;

/// A 1-based source position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_marker(m: &Marker) -> Self {
        // yaml-rust2 lines are 1-based, columns 0-based.
        Pos {
            line: m.line().max(1),
            column: m.col() + 1,
        }
    }
}

/// Where each path of the document was written. Paths look like
/// `routes[2].backend`; the root is `""`.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
}

impl Positions {
    /// Position of the mapping key that introduces `path`.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).copied()
    }

    /// Position of the value at `path`.
    pub fn value(&self, path: &str) -> Option<Pos> {
        self.values.get(path).copied()
    }

    /// The value position of `path`, else of its nearest written ancestor
    /// (fields left at their defaults have no position of their own).
    pub fn locate(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.value(p).or_else(|| self.key(p)) {
                return Some(pos);
            }
            if p.is_empty() {
                return None;
            }
            p = parent_path(p);
        }
    }
}

/// `a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``.
pub fn parent_path(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Appends a mapping key to a path.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// A parsed document: the value (an empty mapping for an empty document) and positions.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub positions: Positions,
}

/// A syntax or structure error; `field` is the path where it was found, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Option<Pos>,
    pub field: String,
    pub message: String,
}

impl YamlError {
    fn at(mark: &Marker, field: &str, message: impl Into<String>) -> Self {
        YamlError {
            pos: Some(Pos::from_marker(mark)),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Parses one YAML document. Never panics: a panic inside the YAML library is
/// turned into an error as a last line of defence.
pub fn parse(text: &str) -> Result<Document, YamlError> {
    std::panic::catch_unwind(|| Builder::default().run(text)).unwrap_or_else(|_| {
        Err(YamlError {
            pos: None,
            field: String::new(),
            message: "internal error in the YAML parser".to_owned(),
        })
    })
}

/// Size of a finished node, charged against the document budgets.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
    height: usize,
}

enum Kind {
    Seq(Vec<Value>),
    /// The map and the key awaiting its value (with the key's position).
    Map(Map<String, Value>, Option<String>),
}

struct Frame {
    kind: Kind,
    path: String,
    anchor: usize,
    size: Size,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, Size)>,
    positions: Positions,
    root: Option<Value>,
    nodes: usize,
    bytes: usize,
}

impl Builder {
    fn run(mut self, text: &str) -> Result<Document, YamlError> {
        let mut parser = Parser::new_from_str(text);
        let mut documents = 0usize;
        loop {
            let (event, mark) = parser.next_token().map_err(|e| YamlError {
                pos: Some(Pos::from_marker(e.marker())),
                field: String::new(),
                message: e.info().to_owned(),
            })?;
            match event {
                Event::StreamEnd => break,
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::DocumentStart => {
                    documents += 1;
                    if documents > 1 {
                        return Err(YamlError::at(
                            &mark,
                            "",
                            "multiple YAML documents in one file are not supported",
                        ));
                    }
                }
                Event::Scalar(text, style, anchor, tag) => {
                    self.scalar(text, style, anchor, tag.as_ref(), &mark)?
                }
                Event::SequenceStart(anchor, tag) => {
                    self.open(Kind::Seq(Vec::new()), anchor, tag.as_ref(), &mark)?
                }
                Event::MappingStart(anchor, tag) => {
                    self.open(Kind::Map(Map::new(), None), anchor, tag.as_ref(), &mark)?
                }
                Event::SequenceEnd | Event::MappingEnd => self.close(&mark)?,
                Event::Alias(id) => self.alias(id, &mark)?,
            }
        }
        let value = match self.root {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v) => v,
        };
        Ok(Document {
            value,
            positions: self.positions,
        })
    }

    /// The path of the node about to start, or `None` if it is a mapping key.
    fn child_path(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame {
                kind: Kind::Seq(items),
                path,
                ..
            }) => Some(format!("{path}[{}]", items.len())),
            Some(Frame {
                kind: Kind::Map(_, Some(key)),
                path,
                ..
            }) => Some(join_key(path, key)),
            Some(Frame {
                kind: Kind::Map(_, None),
                ..
            }) => None,
        }
    }

    fn current_path(&self) -> &str {
        self.stack.last().map_or("", |f| f.path.as_str())
    }

    fn charge(&mut self, size: Size, mark: &Marker) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(size.nodes);
        self.bytes = self.bytes.saturating_add(size.bytes);
        if self.nodes > MAX_NODES || self.bytes > MAX_SCALAR_BYTES {
            return Err(YamlError::at(
                mark,
                self.current_path(),
                format!(
                    "document expands to more than {MAX_NODES} nodes or {MAX_SCALAR_BYTES} bytes \
                     (alias bomb?)"
                ),
            ));
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        mark: &Marker,
    ) -> Result<(), YamlError> {
        let forced_string = check_tag(tag, mark, self.current_path())?;
        let size = Size {
            nodes: 1,
            bytes: text.len(),
            height: 1,
        };
        self.charge(size, mark)?;
        let Some(path) = self.child_path() else {
            return self.key(text, anchor, size, mark);
        };
        let value = if forced_string || style != TScalarStyle::Plain {
            Value::String(text)
        } else {
            resolve_plain(text).map_err(|m| YamlError::at(mark, &path, m))?
        };
        self.positions.values.insert(path, Pos::from_marker(mark));
        self.finish(value, anchor, size, mark)
    }

    /// Records a mapping key, rejecting duplicates.
    fn key(
        &mut self,
        key: String,
        anchor: usize,
        size: Size,
        mark: &Marker,
    ) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors
                .insert(anchor, (Value::String(key.clone()), size));
        }
        let Some(Frame {
            kind: Kind::Map(map, pending),
            path,
            ..
        }) = self.stack.last_mut()
        else {
            return Ok(());
        };
        let full = join_key(path, &key);
        if map.contains_key(&key) {
            let first = self
                .positions
                .key(&full)
                .map(|p| format!(" (first at line {}, column {})", p.line, p.column))
                .unwrap_or_default();
            return Err(YamlError::at(
                mark,
                &full,
                format!("duplicate key {key:?}{first}"),
            ));
        }
        self.positions.keys.insert(full, Pos::from_marker(mark));
        *pending = Some(key);
        Ok(())
    }

    fn open(
        &mut self,
        kind: Kind,
        anchor: usize,
        tag: Option<&Tag>,
        mark: &Marker,
    ) -> Result<(), YamlError> {
        if check_tag(tag, mark, self.current_path())? {
            return Err(YamlError::at(
                mark,
                self.current_path(),
                "!!str on a collection",
            ));
        }
        let Some(path) = self.child_path() else {
            return Err(YamlError::at(
                mark,
                self.current_path(),
                "mapping keys must be plain scalars, not collections",
            ));
        };
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::at(
                mark,
                &path,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.charge(
            Size {
                nodes: 1,
                bytes: 0,
                height: 1,
            },
            mark,
        )?;
        self.positions
            .values
            .insert(path.clone(), Pos::from_marker(mark));
        self.stack.push(Frame {
            kind,
            path,
            anchor,
            size: Size {
                nodes: 1,
                bytes: 0,
                height: 1,
            },
        });
        Ok(())
    }

    fn close(&mut self, mark: &Marker) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Err(YamlError::at(mark, "", "unbalanced collection end"));
        };
        let value = match frame.kind {
            Kind::Seq(items) => Value::Array(items),
            Kind::Map(map, _) => Value::Object(map),
        };
        self.finish(value, frame.anchor, frame.size, mark)
    }

    fn alias(&mut self, id: usize, mark: &Marker) -> Result<(), YamlError> {
        let path = self.child_path();
        let Some((value, size)) = self.anchors.get(&id).cloned() else {
            return Err(YamlError::at(mark, self.current_path(), "unknown alias"));
        };
        // Every expansion is charged in full: this is what stops billion laughs.
        self.charge(size, mark)?;
        if self.stack.len() + size.height > MAX_DEPTH + 1 {
            return Err(YamlError::at(
                mark,
                self.current_path(),
                format!("nesting deeper than {MAX_DEPTH} levels (through an alias)"),
            ));
        }
        let Some(path) = path else {
            let Value::String(key) = value else {
                return Err(YamlError::at(
                    mark,
                    self.current_path(),
                    "mapping keys must be plain scalars, not collections",
                ));
            };
            return self.key(key, 0, size, mark);
        };
        self.positions.values.insert(path, Pos::from_marker(mark));
        self.finish(value, 0, size, mark)
    }

    /// Attaches a finished node to its parent (or makes it the root).
    fn finish(
        &mut self,
        value: Value,
        anchor: usize,
        size: Size,
        mark: &Marker,
    ) -> Result<(), YamlError> {
        if anchor != 0 {
            // Keeping a copy for later aliases costs as much as the node itself.
            self.charge(size, mark)?;
            self.anchors.insert(anchor, (value.clone(), size));
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(value);
            return Ok(());
        };
        parent.size.nodes = parent.size.nodes.saturating_add(size.nodes);
        parent.size.bytes = parent.size.bytes.saturating_add(size.bytes);
        parent.size.height = parent.size.height.max(size.height + 1);
        match &mut parent.kind {
            Kind::Seq(items) => items.push(value),
            Kind::Map(map, pending) => {
                if let Some(key) = pending.take() {
                    map.insert(key, value);
                }
            }
        }
        Ok(())
    }
}

/// Only `!!str` (forcing a string) is accepted; returns whether it was given.
fn check_tag(tag: Option<&Tag>, mark: &Marker, path: &str) -> Result<bool, YamlError> {
    match tag {
        None => Ok(false),
        Some(t) if t.handle == "tag:yaml.org,2002:" && t.suffix == "str" => Ok(true),
        Some(t) => Err(YamlError::at(
            mark,
            path,
            format!(
                "YAML tag {}{} is not supported (only !!str)",
                t.handle, t.suffix
            ),
        )),
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
fn resolve_plain(text: String) -> Result<Value, String> {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if let Some(n) = resolve_int(&text) {
        return n.map(Value::Number);
    }
    if is_float(&text) {
        return match text.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(format!("number {text} is not representable")),
        };
    }
    let bare = text.trim_start_matches(['+', '-']);
    if matches!(bare, ".inf" | ".Inf" | ".INF") || matches!(text.as_str(), ".nan" | ".NaN" | ".NAN")
    {
        return Err(format!("non-finite number {text} is not supported"));
    }
    Ok(Value::String(text))
}

/// `Some` if `text` is a core-schema integer (decimal, `0o`, `0x`).
fn resolve_int(text: &str) -> Option<Result<Number, String>> {
    let out_of_range = || Err(format!("integer {text} is out of range"));
    let (digits, radix) = if let Some(oct) = text.strip_prefix("0o") {
        (oct, 8)
    } else if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16)
    } else {
        let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return Some(if text.starts_with('-') {
            text.parse::<i64>()
                .map(Number::from)
                .or_else(|_| out_of_range())
        } else {
            unsigned
                .parse::<u64>()
                .map(Number::from)
                .or_else(|_| out_of_range())
        });
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(
        u64::from_str_radix(digits, radix)
            .map(Number::from)
            .or_else(|_| out_of_range()),
    )
}

/// Core-schema float: `[-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE][-+]?[0-9]+ )?`.
fn is_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() && digits(frac)) || (digits(int) && (frac.is_empty() || digits(frac)))
        }
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}
