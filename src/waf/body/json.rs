//! `application/json` bodies flattened into `ARGS_POST` the way ModSecurity v3 names them:
//! `{"a":{"b":1}}` → `json.a.b`, `{"a":[1,2]}` → `json.a.array_0`, `json.a.array_1`.
//!
//! serde_json streams the document into a visitor (no `Value` tree, document order kept);
//! nesting is counted by the visitor and refused past `BodyLimits::json_depth`, so its own
//! recursion limit is lifted (`unbounded_depth`) without letting the stack grow unbounded.

use super::{BodyLimits, ParsedBody};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

pub fn json(body: &[u8], limits: &BodyLimits) -> ParsedBody {
    let mut flattener = Flattener {
        containers: Vec::new(),
        current_key: Vec::new(),
        parsed: ParsedBody::default(),
        limits,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return flattener.parsed;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    deserializer.disable_recursion_limit();
    let outcome = Node {
        flattener: &mut flattener,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    let mut parsed = flattener.parsed;
    if let Err(error) = outcome {
        parsed
            .error
            .get_or_insert_with(|| format!("JSON parsing error: {error}"));
    }
    parsed
}

enum Container {
    Map(Vec<u8>),
    Array(Vec<u8>, usize),
}

struct Flattener<'a> {
    containers: Vec<Container>,
    /// The last object key seen (ModSecurity names a nested container after it).
    current_key: Vec<u8>,
    parsed: ParsedBody,
    limits: &'a BodyLimits,
}

impl Flattener<'_> {
    /// ModSecurity's `getCurrentKey`: consumes the last key; an empty one is "" inside an
    /// array and `empty-key` elsewhere; the root is `json`.
    fn take_key(&mut self) -> Vec<u8> {
        if self.containers.is_empty() {
            return b"json".to_vec();
        }
        let key = std::mem::take(&mut self.current_key);
        if !key.is_empty() {
            return key;
        }
        match self.containers.last() {
            Some(Container::Array(..)) => Vec::new(),
            _ => b"empty-key".to_vec(),
        }
    }

    fn open(&mut self, container: Container) -> Result<(), String> {
        if self.containers.len() >= self.limits.json_depth {
            return Err(format!(
                "JSON depth limit {} exceeded",
                self.limits.json_depth
            ));
        }
        self.containers.push(container);
        Ok(())
    }

    fn close(&mut self) {
        self.containers.pop();
        if let Some(Container::Array(_, count)) = self.containers.last_mut() {
            *count += 1;
        }
    }

    fn scalar(&mut self, value: Vec<u8>) -> Result<(), String> {
        let mut name = Vec::new();
        for container in &self.containers {
            match container {
                Container::Map(key) => {
                    name.extend_from_slice(key);
                    name.push(b'.');
                }
                Container::Array(key, index) => {
                    name.extend_from_slice(key);
                    name.extend_from_slice(format!(".array_{index}").as_bytes());
                }
            }
        }
        match self.containers.last_mut() {
            Some(Container::Array(_, count)) => *count += 1,
            _ => {
                let key = self.take_key();
                name.extend_from_slice(&key);
            }
        }
        if self.parsed.push_arg(name, value, self.limits) {
            Ok(())
        } else {
            Err(format!(
                "too many arguments (limit {})",
                self.limits.max_args
            ))
        }
    }
}

/// One JSON value, visited in place.
struct Node<'f, 'a> {
    flattener: &'f mut Flattener<'a>,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.flattener
            .scalar(if v {
                b"true".to_vec()
            } else {
                b"false".to_vec()
            })
            .map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.flattener
            .scalar(v.to_string().into_bytes())
            .map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.flattener
            .scalar(v.to_string().into_bytes())
            .map_err(E::custom)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.flattener
            .scalar(v.to_string().into_bytes())
            .map_err(E::custom)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.flattener
            .scalar(v.as_bytes().to_vec())
            .map_err(E::custom)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.flattener.scalar(Vec::new()).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let name = self.flattener.take_key();
        self.flattener
            .open(Container::Array(name, 0))
            .map_err(de::Error::custom)?;
        while seq
            .next_element_seed(Node {
                flattener: &mut *self.flattener,
            })?
            .is_some()
        {}
        self.flattener.close();
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let name = self.flattener.take_key();
        self.flattener
            .open(Container::Map(name))
            .map_err(de::Error::custom)?;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            self.flattener.current_key = key.as_bytes().to_vec();
            map.next_value_seed(Node {
                flattener: &mut *self.flattener,
            })?;
        }
        self.flattener.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_values(body: &str) -> Vec<(String, String)> {
        let parsed = json(body.as_bytes(), &BodyLimits::default());
        assert_eq!(parsed.error, None, "{body}");
        parsed
            .args
            .into_iter()
            .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_like_modsecurity() {
        assert_eq!(
            names_values(r#"{"a":{"b":1,"c":"x"},"d":[true,null,{"e":2.5}],"z":"q"}"#),
            pairs(&[
                ("json.a.b", "1"),
                ("json.a.c", "x"),
                ("json.d.array_0", "true"),
                ("json.d.array_1", ""),
                ("json.d.array_2.e", "2.5"),
                ("json.z", "q"),
            ])
        );
        assert_eq!(
            names_values("[1,[2]]"),
            pairs(&[("json.array_0", "1"), ("json.array_1.array_0", "2")])
        );
        assert_eq!(names_values(r#""top""#), pairs(&[("json", "top")]));
        assert_eq!(
            names_values(r#"{"":1,"a":[]}"#),
            pairs(&[("json.empty-key", "1")])
        );
        assert_eq!(
            names_values(r#"{"k":"\u003cscript\u003e"}"#),
            pairs(&[("json.k", "<script>")])
        );
        assert!(names_values("  ").is_empty());
    }

    #[test]
    fn malformed_is_an_error_after_what_parsed() {
        let parsed = json(br#"{"a":1,"b":}"#, &BodyLimits::default());
        assert_eq!(parsed.args.len(), 1);
        assert!(parsed.error.unwrap().starts_with("JSON parsing error"));
        assert!(json(b"{} trailing", &BodyLimits::default()).error.is_some());
    }

    #[test]
    fn depth_and_argument_limits() {
        let limits = BodyLimits {
            json_depth: 3,
            ..BodyLimits::default()
        };
        assert!(json(b"[[[1]]]", &limits).error.is_none());
        assert!(json(b"[[[[1]]]]", &limits).error.unwrap().contains("depth"));
        // far deeper than the stack could take if recursion were not cut at the limit
        let deep = "[".repeat(200_000);
        assert!(
            json(deep.as_bytes(), &BodyLimits::default())
                .error
                .unwrap()
                .contains("depth")
        );
        let limits = BodyLimits {
            max_args: 2,
            ..BodyLimits::default()
        };
        assert!(
            json(b"[1,2,3]", &limits)
                .error
                .unwrap()
                .contains("too many")
        );
    }
}
