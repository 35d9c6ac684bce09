//! Builds a `serde_json::Value` and its position index from yaml-rust2 events,
//! enforcing the depth, node and byte budgets and rejecting duplicate keys.

use std::collections::HashMap;

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::config::yaml::{
    Document, MAX_DEPTH, MAX_NODES, MAX_SCALAR_BYTES, Pos, Positions, YamlError, join_key,
};
use crate::config::yaml_scalar::{check_tag, resolve_plain};

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
pub(crate) struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, Size)>,
    positions: Positions,
    root: Option<Value>,
    nodes: usize,
    bytes: usize,
}

impl Builder {
    pub(crate) fn run(mut self, text: &str) -> Result<Document, YamlError> {
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
        let pos = Pos::from_marker(mark);
        // yaml-rust2 marks a block mapping at its first `:`; the first key is
        // where the user sees the mapping start.
        if map.is_empty()
            && let Some(start) = self.positions.values.get_mut(path.as_str())
        {
            *start = (*start).min(pos);
        }
        self.positions.keys.insert(full, pos);
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
