//! A small JSON tree, for the `snapshot` header only: the header is a few kilobytes, read
//! whole once it is complete, so a plain recursive reader is enough. Apart from the tokenizer,
//! which streams and never builds values.

use super::error::{printable, SnapshotError};
use super::tokenizer::{is_ws, StrDecoder};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
  Null,
  Bool(bool),
  Number(f64),
  String(String),
  Array(Vec<Value>),
  Object(Vec<(String, Value)>),
}

impl Value {
  pub fn get(&self, key: &str) -> Option<&Value> {
    match self {
      Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
      _ => None,
    }
  }

  pub fn as_array(&self) -> Option<&[Value]> {
    match self {
      Value::Array(items) => Some(items),
      _ => None,
    }
  }

  pub fn as_str(&self) -> Option<&str> {
    match self {
      Value::String(s) => Some(s),
      _ => None,
    }
  }

  pub fn as_u64(&self) -> Option<u64> {
    match *self {
      Value::Number(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e19 => Some(n as u64),
      _ => None,
    }
  }
}

/// The header nests three levels deep; this bounds recursion on hostile input.
const MAX_DEPTH: u32 = 64;

pub fn parse(text: &[u8]) -> Result<Value, SnapshotError> {
  let mut reader = Reader { text, pos: 0 };
  let value = reader.value(0)?;
  reader.skip_ws();
  if reader.pos != text.len() {
    return reader.error("end of the header");
  }
  Ok(value)
}

struct Reader<'a> {
  text: &'a [u8],
  pos: usize,
}

impl Reader<'_> {
  fn error<T>(&self, expected: &str) -> Result<T, SnapshotError> {
    let found = self.text.get(self.pos).map_or("the end".to_string(), |&b| printable(b));
    Err(SnapshotError(format!("snapshot header: expected {expected}, found {found}")))
  }

  fn skip_ws(&mut self) {
    while self.text.get(self.pos).is_some_and(|&b| is_ws(b)) {
      self.pos += 1;
    }
  }

  fn eat(&mut self, b: u8) -> bool {
    self.skip_ws();
    let hit = self.text.get(self.pos) == Some(&b);
    if hit {
      self.pos += 1;
    }
    hit
  }

  fn value(&mut self, depth: u32) -> Result<Value, SnapshotError> {
    if depth > MAX_DEPTH {
      return Err(SnapshotError("snapshot header: nested too deeply".into()));
    }
    self.skip_ws();
    match self.text.get(self.pos) {
      Some(b'{') => self.object(depth),
      Some(b'[') => self.array(depth),
      Some(b'"') => self.string().map(Value::String),
      Some(b't') => self.literal("true", Value::Bool(true)),
      Some(b'f') => self.literal("false", Value::Bool(false)),
      Some(b'n') => self.literal("null", Value::Null),
      Some(b'-' | b'0'..=b'9') => self.number(),
      _ => self.error("a value"),
    }
  }

  fn object(&mut self, depth: u32) -> Result<Value, SnapshotError> {
    self.pos += 1;
    let mut members = Vec::new();
    if self.eat(b'}') {
      return Ok(Value::Object(members));
    }
    loop {
      self.skip_ws();
      if self.text.get(self.pos) != Some(&b'"') {
        return self.error("a key");
      }
      let key = self.string()?;
      if !self.eat(b':') {
        return self.error("':'");
      }
      members.push((key, self.value(depth + 1)?));
      if self.eat(b'}') {
        return Ok(Value::Object(members));
      }
      if !self.eat(b',') {
        return self.error("',' or '}'");
      }
    }
  }

  fn array(&mut self, depth: u32) -> Result<Value, SnapshotError> {
    self.pos += 1;
    let mut items = Vec::new();
    if self.eat(b']') {
      return Ok(Value::Array(items));
    }
    loop {
      items.push(self.value(depth + 1)?);
      if self.eat(b']') {
        return Ok(Value::Array(items));
      }
      if !self.eat(b',') {
        return self.error("',' or ']'");
      }
    }
  }

  fn string(&mut self) -> Result<String, SnapshotError> {
    self.pos += 1;
    let mut out = Vec::new();
    let decoded = StrDecoder::default().feed(&self.text[self.pos..], &mut out);
    match decoded.map_err(|f| SnapshotError(format!("snapshot header: {}", f.message)))? {
      Some(n) => {
        self.pos += n;
        Ok(String::from_utf8_lossy(&out).into_owned())
      }
      None => Err(SnapshotError("snapshot header: unterminated string".into())),
    }
  }

  fn literal(&mut self, word: &str, value: Value) -> Result<Value, SnapshotError> {
    if self.text[self.pos..].starts_with(word.as_bytes()) {
      self.pos += word.len();
      Ok(value)
    } else {
      self.error(word)
    }
  }

  fn number(&mut self) -> Result<Value, SnapshotError> {
    let start = self.pos;
    while self
      .text
      .get(self.pos)
      .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
    {
      self.pos += 1;
    }
    let token = std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("");
    match token.parse::<f64>() {
      Ok(n) => Ok(Value::Number(n)),
      Err(_) => {
        self.pos = start;
        self.error("a number")
      }
    }
  }
}
