//! V8 heap snapshots and the retainer paths of module objects, in plain Rust (no N-API types).
//!
//! A `.heapsnapshot` (what `v8.writeHeapSnapshot()` and the inspector's
//! `HeapProfiler.takeHeapSnapshot` write) is one JSON object:
//!
//! ```text
//! {"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count",...],
//!                      "node_types":[["hidden","array","string","object",...],"string",...],
//!                      "edge_fields":["type","name_or_index","to_node"],
//!                      "edge_types":[["context","element","property","internal",...],...],
//!                      "location_fields":["object_index","script_id","line","column"],...},
//!              "node_count":N,"edge_count":M,...},
//!  "nodes":[N × node_fields numbers], "edges":[M × edge_fields numbers],
//!  "locations":[...], "strings":["<dummy>","(GC roots)",...], ...sections we skip...}
//! ```
//!
//! Node `i`'s edges follow node `i - 1`'s in `edges` (`edge_count` says how many); `to_node` is an
//! offset into `nodes`; `name` and most edge names index `strings`; `element` and `hidden` edges
//! carry an index instead. The field lists differ between V8 versions (`trace_node_id` and
//! `detachedness` come and go), so every offset is looked up by name in `meta`.
//!
//! [`Parser`] is fed the text in chunks of any size and never holds it whole: the big number
//! arrays go straight into flat `Vec<u32>`s, the strings into one byte buffer, and only the small
//! `snapshot` header is kept as text until it is complete. The analysis adds three `u32` per node
//! (first edge, BFS parent, BFS queue). Peak memory is about the size of the text: 1.1× for a
//! 200 MB snapshot (`benchmark/heapsnapshot.js` measures it).
//!
//! [`HeapSnapshot::explain_retainers`] finds the `Module` objects of the given ids, tells the live
//! one (the value of `Module._cache[id]`) from older generations, and for each old generation that
//! is still in the heap gives the shortest chain of strong references from a GC root, in words.

use std::borrow::Cow;
use std::collections::HashMap;

/// Why a snapshot could not be parsed or is not a V8 heap snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError(pub String);

impl std::fmt::Display for SnapshotError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(&self.0)
  }
}

impl std::error::Error for SnapshotError {}

fn fail<T>(message: impl Into<String>) -> Result<T, SnapshotError> {
  Err(SnapshotError(message.into()))
}

/// A syntax error `at` bytes into the slice being fed; the parser adds where that slice began.
#[derive(Debug)]
struct Fault {
  at: usize,
  message: String,
}

fn fault<T>(at: usize, message: impl Into<String>) -> Result<T, Fault> {
  Err(Fault { at, message: message.into() })
}

/// What feeding a slice to a piece of the document gives: `Some(n)` when the piece ended after
/// `n` bytes of the slice, `None` when it goes on in the next slice.
type Feed = Result<Option<usize>, Fault>;

/// Children of the synthetic root and of `(GC roots)` that are V8's or Node's own bookkeeping
/// rather than a holder a user can act on. They are entered only once every real root has been
/// searched, so an object that both reach is explained through its real holder; an object only
/// they reach still gets a path (which then says so). `(Stack roots)` is here because the stack at
/// snapshot time is mostly the snapshot code's own; a caller's local variable shows up there.
const BOOKKEEPING_ROOTS: &[&str] = &[
  "(Bootstrapper)",
  "(Builtins)",
  "(Client heap)",
  "(Code flusher)",
  "(Compilation cache)",
  "(Conservative stack roots)",
  "(Debugger)",
  "(Extensions)",
  "(External strings)",
  "(Handle scope)",
  "(Identity map)",
  "(Internalized strings)",
  "(Read-only object cache)",
  "(Read-only roots)",
  "(Relocatable)",
  "(Retain maps)",
  "(Shareable object cache)",
  "(Smi roots)",
  "(Stack roots)",
  "(Startup object cache)",
  "(Thread manager)",
  "(Unknown)",
  "(Weak collections)",
  "(Weak roots)",
  "(Wrapper tracing)",
  "(Write barrier)",
  "C++ native stack roots",
];

/// Internal edges that do not keep their target alive past the current job, although V8 does not
/// type them `weak`: the list of WeakRef targets kept until the job ends (`new WeakRef(x)` and
/// `deref()` add to it). An object only they reach is as good as collected.
const NEVER_FOLLOWED_EDGES: &[&str] = &["weak_refs_keep_during_job"];

/// V8 cuts string contents in snapshots to this many UTF-16 units (`--heap-snapshot-string-limit`).
const SNAPSHOT_STRING_LIMIT: usize = 1024;

/// The `snapshot` header is a few kilobytes; anything this large is not a V8 snapshot.
const MAX_HEADER_BYTES: usize = 16 << 20;

const UNREACHED: u32 = u32::MAX;
const DEFERRED: u32 = u32::MAX - 1;
const START: u32 = u32::MAX - 2;

fn is_ws(b: u8) -> bool {
  matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn printable(b: u8) -> String {
  if b.is_ascii_graphic() {
    format!("'{}'", b as char)
  } else {
    format!("byte 0x{b:02x}")
  }
}

// ---------------------------------------------------------------------------------------------
// JSON pieces that survive chunk boundaries
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
enum Escape {
  #[default]
  None,
  Backslash,
  Hex,
}

/// Decodes the inside of a JSON string (after its opening quote) into UTF-8, across chunks.
/// `\uXXXX` surrogate pairs become one character; a lone surrogate becomes U+FFFD (V8 writes
/// them for strings that hold one).
#[derive(Default)]
struct StrDecoder {
  escape: Escape,
  unit: u32,
  digits: u8,
  high_surrogate: Option<u32>,
}

impl StrDecoder {
  /// Appends decoded bytes to `out`. Returns how many bytes were consumed, closing quote
  /// included, once the string ends; `None` when `bytes` ran out first.
  fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Feed {
    let mut i = 0;
    while i < bytes.len() {
      match self.escape {
        Escape::None => {
          let rest = &bytes[i..];
          let stop = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
          let run = stop.unwrap_or(rest.len());
          if run > 0 {
            self.flush_surrogate(out);
            out.extend_from_slice(&rest[..run]);
          }
          i += run;
          if stop.is_none() {
            break;
          }
          let b = bytes[i];
          i += 1;
          match b {
            b'"' => {
              self.flush_surrogate(out);
              return Ok(Some(i));
            }
            b'\\' => self.escape = Escape::Backslash,
            _ => {
              return fault(
                i - 1,
                format!("unescaped control character {} in a string", printable(b)),
              )
            }
          }
        }
        Escape::Backslash => {
          let b = bytes[i];
          i += 1;
          self.escape = Escape::None;
          let plain = match b {
            b'u' => {
              self.escape = Escape::Hex;
              self.unit = 0;
              self.digits = 0;
              continue;
            }
            b'"' | b'\\' | b'/' => b,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            _ => return fault(i - 1, format!("invalid escape \\{} in a string", b as char)),
          };
          self.flush_surrogate(out);
          out.push(plain);
        }
        Escape::Hex => {
          let b = bytes[i];
          i += 1;
          let digit = match (b as char).to_digit(16) {
            Some(d) => d,
            None => {
              return fault(
                i - 1,
                format!("invalid \\u escape: {} is not a hex digit", printable(b)),
              )
            }
          };
          self.unit = self.unit * 16 + digit;
          self.digits += 1;
          if self.digits == 4 {
            self.escape = Escape::None;
            self.code_unit(self.unit, out);
          }
        }
      }
    }
    Ok(None)
  }

  fn code_unit(&mut self, unit: u32, out: &mut Vec<u8>) {
    if let Some(high) = self.high_surrogate.take() {
      if (0xDC00..=0xDFFF).contains(&unit) {
        let c = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00);
        push_char(out, char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
        return;
      }
      push_char(out, char::REPLACEMENT_CHARACTER);
    }
    if (0xD800..=0xDBFF).contains(&unit) {
      self.high_surrogate = Some(unit);
    } else {
      push_char(out, char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
    }
  }

  /// A high surrogate not followed by a low one stands alone: it becomes U+FFFD.
  fn flush_surrogate(&mut self, out: &mut Vec<u8>) {
    if self.high_surrogate.take().is_some() {
      push_char(out, char::REPLACEMENT_CHARACTER);
    }
  }
}

fn push_char(out: &mut Vec<u8>, c: char) {
  let mut buf = [0u8; 4];
  out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumState {
  Open,
  First,
  Next,
  Digits,
  AfterDigits,
}

/// A JSON array of unsigned integers (`nodes`, `edges`, `locations`), appended to a `Vec<u32>`
/// as it arrives. Values above `u32::MAX` saturate (only `self_size` could, and it is unused);
/// `to_node` values are range-checked later, so a saturated one is still caught.
struct NumberArray {
  state: NumState,
  value: u64,
}

impl NumberArray {
  fn new() -> Self {
    NumberArray { state: NumState::Open, value: 0 }
  }

  fn feed(&mut self, bytes: &[u8], out: &mut Vec<u32>) -> Feed {
    let (mut state, mut value) = (self.state, self.value);
    let mut i = 0;
    while i < bytes.len() {
      if state == NumState::Digits {
        // The hot loop: most bytes of a snapshot are digits of these arrays.
        while let Some(digit) = bytes.get(i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d < 10) {
          value = value.saturating_mul(10).saturating_add(u64::from(digit));
          i += 1;
        }
        if i == bytes.len() {
          break;
        }
      }
      let b = bytes[i];
      i += 1;
      match state {
        NumState::Digits | NumState::AfterDigits => match b {
          b',' => {
            out.push(value.min(u64::from(u32::MAX)) as u32);
            state = NumState::Next;
          }
          b']' => {
            out.push(value.min(u64::from(u32::MAX)) as u32);
            return Ok(Some(i));
          }
          _ if is_ws(b) => state = NumState::AfterDigits,
          _ if state == NumState::Digits => {
            return fault(i - 1, format!("expected an unsigned integer, found {}", printable(b)));
          }
          _ => {
            return fault(
              i - 1,
              format!("expected ',' or ']' after a number, found {}", printable(b)),
            )
          }
        },
        NumState::First | NumState::Next => match b {
          b'0'..=b'9' => {
            value = u64::from(b - b'0');
            state = NumState::Digits;
          }
          b']' if state == NumState::First => return Ok(Some(i)),
          _ if is_ws(b) => {}
          _ => {
            return fault(i - 1, format!("expected an unsigned integer, found {}", printable(b)))
          }
        },
        NumState::Open => match b {
          b'[' => state = NumState::First,
          _ if is_ws(b) => {}
          _ => {
            return fault(i - 1, format!("expected an array of numbers, found {}", printable(b)))
          }
        },
      }
    }
    self.state = state;
    self.value = value;
    Ok(None)
  }
}

/// All strings of the snapshot in one buffer: string `i` is `bytes[ends[i-1]..ends[i]]`.
/// One allocation instead of one per string keeps a 200 MB snapshot's millions of names cheap.
#[derive(Default, Debug)]
pub struct StringTable {
  bytes: Vec<u8>,
  ends: Vec<usize>,
}

impl StringTable {
  pub fn len(&self) -> usize {
    self.ends.len()
  }

  pub fn is_empty(&self) -> bool {
    self.ends.is_empty()
  }

  /// The UTF-8 bytes of string `i` (`i < len()`).
  pub fn get(&self, i: usize) -> &[u8] {
    let start = if i == 0 { 0 } else { self.ends[i - 1] };
    &self.bytes[start..self.ends[i]]
  }

  /// Every index whose string is `text` (V8 deduplicates, so usually one; hand-made snapshots
  /// may repeat).
  fn indices_of(&self, text: &str) -> Vec<u32> {
    (0..self.len()).filter(|&i| self.get(i) == text.as_bytes()).map(|i| i as u32).collect()
  }

  fn end_string(&mut self) {
    self.ends.push(self.bytes.len());
  }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StrArrState {
  Open,
  First,
  Next,
  InString,
  AfterItem,
}

/// The `strings` array, decoded into a [`StringTable`] as it arrives.
struct StringArray {
  state: StrArrState,
  decoder: StrDecoder,
}

impl StringArray {
  fn new() -> Self {
    StringArray { state: StrArrState::Open, decoder: StrDecoder::default() }
  }

  fn feed(&mut self, bytes: &[u8], table: &mut StringTable) -> Feed {
    let mut i = 0;
    while i < bytes.len() {
      if self.state == StrArrState::InString {
        let decoded = self
          .decoder
          .feed(&bytes[i..], &mut table.bytes)
          .map_err(|f| Fault { at: i + f.at, ..f })?;
        match decoded {
          Some(n) => {
            i += n;
            table.end_string();
            self.state = StrArrState::AfterItem;
            continue;
          }
          None => return Ok(None),
        }
      }
      let b = bytes[i];
      i += 1;
      if is_ws(b) {
        continue;
      }
      match (self.state, b) {
        (StrArrState::Open, b'[') => self.state = StrArrState::First,
        (StrArrState::First | StrArrState::Next, b'"') => {
          self.decoder = StrDecoder::default();
          self.state = StrArrState::InString;
        }
        (StrArrState::First | StrArrState::AfterItem, b']') => return Ok(Some(i)),
        (StrArrState::AfterItem, b',') => self.state = StrArrState::Next,
        _ => return fault(i - 1, format!("expected an array of strings, found {}", printable(b))),
      }
    }
    Ok(None)
  }
}

/// Any JSON value, scanned to its end without being decoded: sections we skip, and the
/// `snapshot` header, whose text is kept (`keep`) to be parsed once complete.
struct RawValue {
  keep: Option<Vec<u8>>,
  depth: u32,
  started: bool,
  in_string: bool,
  escaped: bool,
  scalar: bool,
}

impl RawValue {
  fn new(keep: bool) -> Self {
    RawValue {
      keep: keep.then(Vec::new),
      depth: 0,
      started: false,
      in_string: false,
      escaped: false,
      scalar: false,
    }
  }

  /// Returns how many bytes belong to the value once it ends (a number or literal ends before
  /// the delimiter that follows it, which is left for the caller).
  fn feed(&mut self, bytes: &[u8]) -> Feed {
    let end = self.scan(bytes)?;
    if let Some(keep) = &mut self.keep {
      keep.extend_from_slice(&bytes[..end.unwrap_or(bytes.len())]);
      if keep.len() > MAX_HEADER_BYTES {
        return fault(
          bytes.len(),
          "the snapshot header is larger than 16 MB: not a V8 heap snapshot",
        );
      }
    }
    Ok(end)
  }

  fn scan(&mut self, bytes: &[u8]) -> Feed {
    let mut i = 0;
    while i < bytes.len() {
      if self.in_string {
        if self.escaped {
          self.escaped = false;
          i += 1;
          continue;
        }
        match bytes[i..].iter().position(|&b| b == b'"' || b == b'\\') {
          None => return Ok(None),
          Some(k) => {
            i += k + 1;
            if bytes[i - 1] == b'\\' {
              self.escaped = true;
            } else {
              self.in_string = false;
              if self.depth == 0 {
                return Ok(Some(i));
              }
            }
          }
        }
        continue;
      }
      let b = bytes[i];
      if self.scalar {
        if matches!(b, b',' | b'}' | b']') || is_ws(b) {
          return Ok(Some(i));
        }
        i += 1;
        continue;
      }
      i += 1;
      match b {
        _ if is_ws(b) => {}
        b'"' => {
          self.in_string = true;
          self.started = true;
        }
        b'{' | b'[' => {
          self.depth += 1;
          self.started = true;
        }
        b'}' | b']' => {
          if self.depth == 0 {
            return fault(i - 1, format!("expected a value, found {}", printable(b)));
          }
          self.depth -= 1;
          if self.depth == 0 {
            return Ok(Some(i));
          }
        }
        _ if !self.started => {
          self.started = true;
          self.scalar = true;
        }
        _ => {}
      }
    }
    Ok(None)
  }
}

// ---------------------------------------------------------------------------------------------
// A small JSON tree, for the `snapshot` header only
// ---------------------------------------------------------------------------------------------

mod json {
  use super::{SnapshotError, StrDecoder};

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
      let found = self.text.get(self.pos).map_or("the end".to_string(), |&b| super::printable(b));
      Err(SnapshotError(format!("snapshot header: expected {expected}, found {found}")))
    }

    fn skip_ws(&mut self) {
      while self.text.get(self.pos).is_some_and(|&b| super::is_ws(b)) {
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
}

// ---------------------------------------------------------------------------------------------
// The header: where each field sits
// ---------------------------------------------------------------------------------------------

/// Positions of the fields we use inside one node, edge or location record, read from `meta`.
#[derive(Debug, Clone)]
struct Layout {
  node_stride: usize,
  node_type: usize,
  node_name: usize,
  node_id: usize,
  node_edge_count: usize,
  /// `None` in hand-made snapshots without sizes: every node then counts 0 bytes.
  node_self_size: Option<usize>,
  edge_stride: usize,
  edge_type: usize,
  edge_name: usize,
  edge_to: usize,
  /// `None` when the snapshot has no usable `location_fields`.
  location: Option<LocationLayout>,
}

#[derive(Debug, Clone, Copy)]
struct LocationLayout {
  stride: usize,
  object: usize,
  script: usize,
  line: usize,
  column: usize,
}

/// What `snapshot.meta` (and the counts beside it) says.
#[derive(Debug, Clone)]
struct Header {
  layout: Layout,
  node_types: Vec<String>,
  edge_types: Vec<String>,
  node_count: Option<u64>,
  edge_count: Option<u64>,
}

fn string_list(value: Option<&json::Value>, what: &str) -> Result<Vec<String>, SnapshotError> {
  let items = match value.and_then(json::Value::as_array) {
    Some(items) => items,
    None => return fail(format!("snapshot.meta.{what} is missing: not a V8 heap snapshot")),
  };
  items
    .iter()
    .map(|v| v.as_str().map(str::to_owned))
    .collect::<Option<Vec<_>>>()
    .map_or_else(|| fail(format!("snapshot.meta.{what} must list strings")), Ok)
}

fn field(fields: &[String], name: &str, list: &str) -> Result<usize, SnapshotError> {
  match fields.iter().position(|f| f == name) {
    Some(i) => Ok(i),
    None => fail(format!("snapshot.meta.{list} has no `{name}` field: not a V8 heap snapshot")),
  }
}

/// The enum values of the `type` field: `types` runs parallel to `fields`, and the entry at the
/// position of `type` is the list of type names.
fn type_names(
  meta: &json::Value,
  types_key: &str,
  type_field: usize,
) -> Result<Vec<String>, SnapshotError> {
  let entry = meta.get(types_key).and_then(json::Value::as_array).and_then(|t| t.get(type_field));
  string_list(entry, &format!("{types_key}[{type_field}]"))
}

impl Header {
  fn from_json(snapshot: &json::Value) -> Result<Header, SnapshotError> {
    let meta = match snapshot.get("meta") {
      Some(meta) => meta,
      None => return fail("snapshot.meta is missing: not a V8 heap snapshot"),
    };
    let node_fields = string_list(meta.get("node_fields"), "node_fields")?;
    let edge_fields = string_list(meta.get("edge_fields"), "edge_fields")?;
    if node_fields.len() > 256 || edge_fields.len() > 256 {
      return fail("snapshot.meta lists more than 256 node or edge fields: not a V8 heap snapshot");
    }
    let node_type = field(&node_fields, "type", "node_fields")?;
    let edge_type = field(&edge_fields, "type", "edge_fields")?;
    let layout = Layout {
      node_stride: node_fields.len(),
      node_type,
      node_name: field(&node_fields, "name", "node_fields")?,
      node_id: field(&node_fields, "id", "node_fields")?,
      node_edge_count: field(&node_fields, "edge_count", "node_fields")?,
      node_self_size: node_fields.iter().position(|f| f == "self_size"),
      edge_stride: edge_fields.len(),
      edge_type,
      edge_name: field(&edge_fields, "name_or_index", "edge_fields")?,
      edge_to: field(&edge_fields, "to_node", "edge_fields")?,
      location: Self::location_layout(meta),
    };
    Ok(Header {
      layout,
      node_types: type_names(meta, "node_types", node_type)?,
      edge_types: type_names(meta, "edge_types", edge_type)?,
      node_count: snapshot.get("node_count").and_then(json::Value::as_u64),
      edge_count: snapshot.get("edge_count").and_then(json::Value::as_u64),
    })
  }

  /// Locations only help with names, so a snapshot without `location_fields` (V8 before 2020)
  /// or with other fields is still usable: closures are then named without file and line.
  fn location_layout(meta: &json::Value) -> Option<LocationLayout> {
    let fields = string_list(meta.get("location_fields"), "location_fields").ok()?;
    let at = |name: &str| fields.iter().position(|f| f == name);
    Some(LocationLayout {
      stride: fields.len(),
      object: at("object_index")?,
      script: at("script_id")?,
      line: at("line")?,
      column: at("column")?,
    })
  }
}

// ---------------------------------------------------------------------------------------------
// The streaming parser
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Top {
  Start,
  FirstKey,
  NextKey,
  Key,
  Colon,
  Value,
  Section,
  AfterValue,
  End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumberSink {
  Nodes,
  Edges,
  Locations,
}

enum Section {
  Header(RawValue),
  Numbers(NumberArray, NumberSink),
  Strings(StringArray),
  Skipped(RawValue),
}

/// The sections we read; any other top-level key is skipped.
const SECTIONS: [&str; 5] = ["snapshot", "nodes", "edges", "locations", "strings"];

/// An incremental `.heapsnapshot` parser: [`push`](Parser::push) chunks as they arrive (split
/// anywhere, even inside a number or a `\u` escape), then [`finish`](Parser::finish).
pub struct Parser {
  top: Top,
  /// Bytes consumed by earlier `push` calls, for error positions.
  offset: u64,
  key: Vec<u8>,
  key_decoder: StrDecoder,
  section: Option<Section>,
  seen: [bool; SECTIONS.len()],
  header: Option<Header>,
  nodes: Vec<u32>,
  edges: Vec<u32>,
  locations: Vec<u32>,
  strings: StringTable,
  failed: Option<SnapshotError>,
  /// Keep only the `id` of each node and skip edges, locations and strings (see
  /// [`Parser::ids_only`]).
  ids_only: bool,
  /// Numbers of `nodes` read so far, in ids-only mode (which field the next one is).
  node_numbers: u64,
  /// Reused buffer for the numbers ids-only mode reads and drops.
  scratch: Vec<u32>,
}

impl Default for Parser {
  fn default() -> Self {
    Self::new()
  }
}

impl Parser {
  pub fn new() -> Self {
    Parser {
      top: Top::Start,
      offset: 0,
      key: Vec::new(),
      key_decoder: StrDecoder::default(),
      section: None,
      seen: [false; SECTIONS.len()],
      header: None,
      nodes: Vec::new(),
      edges: Vec::new(),
      locations: Vec::new(),
      strings: StringTable::default(),
      failed: None,
      ids_only: false,
      node_numbers: 0,
      scratch: Vec::new(),
    }
  }

  /// A parser that keeps only the V8 object id of every node (4 bytes a node), for the snapshots
  /// a leak diff compares by id: edges, locations and strings are read and dropped. The
  /// `snapshot` header must come before `nodes` (V8 always writes it first). End it with
  /// [`finish_ids`](Parser::finish_ids).
  pub fn ids_only() -> Self {
    Parser { ids_only: true, ..Parser::new() }
  }

  /// Ends an [`ids_only`](Parser::ids_only) parse: the node ids, sorted, without duplicates.
  pub fn finish_ids(self) -> Result<Vec<u32>, SnapshotError> {
    if let Some(error) = self.failed {
      return Err(error);
    }
    if !self.ids_only {
      return fail("finish_ids() on a parser that keeps the whole snapshot: call finish()");
    }
    if self.top != Top::End {
      return fail(format!("the snapshot text ends early (after {} bytes)", self.offset));
    }
    let Some(header) = self.header else {
      return fail("no `snapshot` header: not a V8 heap snapshot");
    };
    if !self.seen[1] {
      return fail("no `nodes` section: not a V8 heap snapshot");
    }
    let stride = header.layout.node_stride as u64;
    if !self.node_numbers.is_multiple_of(stride) {
      return fail("`nodes` does not hold a whole number of records");
    }
    if let Some(count) = header.node_count {
      if count != self.node_numbers / stride {
        return fail(format!(
          "the header announces {count} nodes, the array holds {}",
          self.node_numbers / stride
        ));
      }
    }
    let mut ids = self.nodes;
    ids.sort_unstable();
    ids.dedup();
    ids.shrink_to_fit();
    Ok(ids)
  }

  /// Consumes the next chunk of the text. After an error every later call returns it again.
  pub fn push(&mut self, chunk: &[u8]) -> Result<(), SnapshotError> {
    if let Some(error) = &self.failed {
      return Err(error.clone());
    }
    let mut i = 0;
    while i < chunk.len() {
      match self.step(&chunk[i..]) {
        Ok(used) => i += used,
        Err(Fault { at, message }) => {
          let error =
            SnapshotError(format!("{message} (at byte {})", self.offset + (i + at) as u64));
          self.failed = Some(error.clone());
          return Err(error);
        }
      }
    }
    self.offset += chunk.len() as u64;
    Ok(())
  }

  /// Checks that the text was complete and consistent and returns the snapshot.
  pub fn finish(self) -> Result<HeapSnapshot, SnapshotError> {
    if let Some(error) = self.failed {
      return Err(error);
    }
    if self.top != Top::End {
      let inside = match self.top {
        Top::Section | Top::Key | Top::Colon | Top::Value => {
          format!(" inside `{}`", String::from_utf8_lossy(&self.key))
        }
        _ => String::new(),
      };
      return fail(format!("the snapshot text ends early{inside} (after {} bytes)", self.offset));
    }
    let header = match self.header {
      Some(header) => header,
      None => return fail("no `snapshot` header: not a V8 heap snapshot"),
    };
    for (name, seen) in SECTIONS.iter().zip(self.seen) {
      if !seen && *name != "locations" {
        return fail(format!("no `{name}` section: not a V8 heap snapshot"));
      }
    }
    HeapSnapshot::new(header, self.nodes, self.edges, self.locations, self.strings)
  }

  /// Consumes at least one byte of `bytes` (or none when it changes state without consuming).
  fn step(&mut self, bytes: &[u8]) -> Result<usize, Fault> {
    match self.top {
      Top::Section => self.feed_section(bytes),
      Top::Key => match self.key_decoder.feed(bytes, &mut self.key)? {
        Some(n) => {
          self.top = Top::Colon;
          Ok(n)
        }
        None => Ok(bytes.len()),
      },
      _ if is_ws(bytes[0]) => Ok(1),
      Top::Value => {
        self.open_section().or_else(|e| fault(0, e.0))?;
        Ok(0)
      }
      _ => {
        self.punctuation(bytes[0]).or_else(|e| fault(0, e.0))?;
        Ok(1)
      }
    }
  }

  fn punctuation(&mut self, b: u8) -> Result<(), SnapshotError> {
    self.top = match (self.top, b) {
      (Top::Start, b'{') => Top::FirstKey,
      (Top::FirstKey | Top::NextKey, b'"') => {
        self.key.clear();
        self.key_decoder = StrDecoder::default();
        Top::Key
      }
      (Top::FirstKey | Top::AfterValue, b'}') => Top::End,
      (Top::Colon, b':') => Top::Value,
      (Top::AfterValue, b',') => Top::NextKey,
      (Top::Start, _) => {
        return fail(format!("expected '{{', found {}: not a V8 heap snapshot", printable(b)))
      }
      (Top::End, _) => {
        return fail(format!("unexpected {} after the end of the snapshot", printable(b)))
      }
      (Top::Colon, _) => return fail(format!("expected ':', found {}", printable(b))),
      (Top::AfterValue, _) => return fail(format!("expected ',' or '}}', found {}", printable(b))),
      _ => return fail(format!("expected a key, found {}", printable(b))),
    };
    Ok(())
  }

  fn open_section(&mut self) -> Result<(), SnapshotError> {
    let known = SECTIONS.iter().position(|s| s.as_bytes() == self.key.as_slice());
    if self.ids_only && known == Some(1) && self.header.is_none() {
      return fail("`nodes` comes before the `snapshot` header: not a snapshot as V8 writes it");
    }
    if let Some(k) = known {
      if self.seen[k] {
        return fail(format!("the `{}` section appears twice", SECTIONS[k]));
      }
      self.seen[k] = true;
    }
    self.section = Some(match known.map(|k| SECTIONS[k]) {
      Some("snapshot") => Section::Header(RawValue::new(true)),
      Some("nodes") => Section::Numbers(NumberArray::new(), NumberSink::Nodes),
      Some("edges") => Section::Numbers(NumberArray::new(), NumberSink::Edges),
      Some("locations") => Section::Numbers(NumberArray::new(), NumberSink::Locations),
      Some("strings") if !self.ids_only => Section::Strings(StringArray::new()),
      _ => Section::Skipped(RawValue::new(false)),
    });
    self.top = Top::Section;
    Ok(())
  }

  fn feed_section(&mut self, bytes: &[u8]) -> Result<usize, Fault> {
    let section = self.section.as_mut().expect("a section is open in Top::Section");
    let done = match section {
      Section::Header(raw) | Section::Skipped(raw) => raw.feed(bytes)?,
      Section::Numbers(array, sink) if self.ids_only => {
        self.scratch.clear();
        let done = array.feed(bytes, &mut self.scratch)?;
        if *sink == NumberSink::Nodes {
          let layout = &self.header.as_ref().expect("checked when `nodes` opened").layout;
          let (stride, id) = (layout.node_stride as u64, layout.node_id as u64);
          for (k, &value) in self.scratch.iter().enumerate() {
            if (self.node_numbers + k as u64) % stride == id {
              self.nodes.push(value);
            }
          }
          self.node_numbers += self.scratch.len() as u64;
        }
        done
      }
      Section::Numbers(array, sink) => {
        let out = match sink {
          NumberSink::Nodes => &mut self.nodes,
          NumberSink::Edges => &mut self.edges,
          NumberSink::Locations => &mut self.locations,
        };
        array.feed(bytes, out)?
      }
      Section::Strings(array) => array.feed(bytes, &mut self.strings)?,
    };
    match done {
      Some(n) => {
        self.close_section().or_else(|e| fault(n, e.0))?;
        self.top = Top::AfterValue;
        Ok(n)
      }
      None => Ok(bytes.len()),
    }
  }

  fn close_section(&mut self) -> Result<(), SnapshotError> {
    if let Some(Section::Header(raw)) = self.section.take() {
      let header = Header::from_json(&json::parse(&raw.keep.unwrap_or_default())?)?;
      if !self.ids_only {
        self.reserve(&header);
      } else if let Some(count) = header.node_count {
        let _ = self.nodes.try_reserve_exact(count.min(1 << 28) as usize);
      }
      self.header = Some(header);
    }
    Ok(())
  }

  /// Sizes the arrays from the counts the header announces, so they are allocated once instead
  /// of doubling (which would briefly need 1.5× their size). Bounded, in case the counts lie.
  fn reserve(&mut self, header: &Header) {
    const MAX_RESERVE: u64 = 1 << 30;
    let exact = |count: Option<u64>, stride: usize| {
      count.map_or(0, |c| c.saturating_mul(stride as u64).min(MAX_RESERVE))
    };
    let nodes = exact(header.node_count, header.layout.node_stride) as usize;
    let edges = exact(header.edge_count, header.layout.edge_stride) as usize;
    let _ = self.nodes.try_reserve_exact(nodes.saturating_sub(self.nodes.len()));
    let _ = self.edges.try_reserve_exact(edges.saturating_sub(self.edges.len()));
  }
}

// ---------------------------------------------------------------------------------------------
// The parsed snapshot
// ---------------------------------------------------------------------------------------------

/// Division by the node stride (a small number known only at run time) as a multiplication,
/// because a hardware division per edge is a noticeable part of reading 20 million edges. Exact
/// for every `u32` dividend when the divisor is at most 256: the reciprocal's error, below 2⁻⁸
/// times the quotient's scale, never carries the result past the next integer.
struct Divider {
  reciprocal: u64,
}

impl Divider {
  fn new(divisor: u32) -> Self {
    debug_assert!((1..=256).contains(&divisor));
    Divider { reciprocal: (1u64 << 40) / u64::from(divisor) + 1 }
  }

  fn quotient(&self, n: u32) -> u32 {
    ((u128::from(n) * u128::from(self.reciprocal)) >> 40) as u32
  }
}

/// Indices of the node types we tell apart (`None` when this V8 does not have the type).
#[derive(Debug, Clone, Copy, Default)]
struct NodeKinds {
  object: Option<u32>,
  closure: Option<u32>,
  synthetic: Option<u32>,
  string: Option<u32>,
  cons_string: Option<u32>,
  sliced_string: Option<u32>,
  array: Option<u32>,
  regexp: Option<u32>,
}

/// Indices of the edge types we tell apart.
#[derive(Debug, Clone, Copy, Default)]
struct EdgeKinds {
  element: Option<u32>,
  hidden: Option<u32>,
  internal: Option<u32>,
  property: Option<u32>,
  weak: Option<u32>,
}

fn kind(names: &[String], name: &str) -> Option<u32> {
  names.iter().position(|n| n == name).map(|i| i as u32)
}

/// A parsed, validated heap snapshot: flat arrays as V8 wrote them, plus where each node's
/// edges start. Nodes are named by ordinal (`0..node_count()`), edges by ordinal too.
pub struct HeapSnapshot {
  layout: Layout,
  node_types: Vec<String>,
  edge_types: Vec<String>,
  node_kinds: NodeKinds,
  edge_kinds: EdgeKinds,
  nodes: Vec<u32>,
  edges: Vec<u32>,
  locations: Vec<u32>,
  strings: StringTable,
  /// `first_edge[n]..first_edge[n + 1]` are node `n`'s edge ordinals.
  first_edge: Vec<u32>,
  /// `(node offset, location record)` sorted, built the first time a closure is located: one
  /// linear scan of `locations` per closure is too slow when hundreds of chains are described.
  location_index: std::sync::OnceLock<Vec<(u32, u32)>>,
}

impl std::fmt::Debug for HeapSnapshot {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("HeapSnapshot")
      .field("nodes", &self.node_count())
      .field("edges", &self.edge_count())
      .field("strings", &self.strings.len())
      .finish()
  }
}

impl HeapSnapshot {
  fn new(
    header: Header,
    nodes: Vec<u32>,
    edges: Vec<u32>,
    locations: Vec<u32>,
    strings: StringTable,
  ) -> Result<HeapSnapshot, SnapshotError> {
    let Header { layout, node_types, edge_types, node_count, edge_count } = header;
    let node_kinds = NodeKinds {
      object: kind(&node_types, "object"),
      closure: kind(&node_types, "closure"),
      synthetic: kind(&node_types, "synthetic"),
      string: kind(&node_types, "string"),
      cons_string: kind(&node_types, "concatenated string"),
      sliced_string: kind(&node_types, "sliced string"),
      array: kind(&node_types, "array"),
      regexp: kind(&node_types, "regexp"),
    };
    let edge_kinds = EdgeKinds {
      element: kind(&edge_types, "element"),
      hidden: kind(&edge_types, "hidden"),
      internal: kind(&edge_types, "internal"),
      property: kind(&edge_types, "property"),
      weak: kind(&edge_types, "weak"),
    };
    let mut snapshot = HeapSnapshot {
      layout,
      node_types,
      edge_types,
      node_kinds,
      edge_kinds,
      nodes,
      edges,
      locations,
      strings,
      first_edge: Vec::new(),
      location_index: std::sync::OnceLock::new(),
    };
    snapshot.check_counts(node_count, edge_count)?;
    snapshot.index_edges()?;
    snapshot.check_nodes()?;
    snapshot.resolve_edges()?;
    Ok(snapshot)
  }

  fn check_counts(
    &self,
    node_count: Option<u64>,
    edge_count: Option<u64>,
  ) -> Result<(), SnapshotError> {
    let l = &self.layout;
    if !self.nodes.len().is_multiple_of(l.node_stride)
      || !self.edges.len().is_multiple_of(l.edge_stride)
    {
      return fail("`nodes` or `edges` does not hold a whole number of records");
    }
    if self.nodes.is_empty() {
      return fail("the snapshot has no nodes (not even the root)");
    }
    if self.nodes.len() > u32::MAX as usize || self.edges.len() / l.edge_stride >= u32::MAX as usize
    {
      return fail("the snapshot is too large (more than 4 G array entries)");
    }
    let announced = |count: Option<u64>, actual: usize| count.is_none_or(|c| c == actual as u64);
    if !announced(node_count, self.node_count()) || !announced(edge_count, self.edge_count()) {
      return fail(format!(
        "the header announces {} nodes and {} edges, the arrays hold {} and {}",
        node_count.unwrap_or(0),
        edge_count.unwrap_or(0),
        self.node_count(),
        self.edge_count()
      ));
    }
    Ok(())
  }

  /// Edges are stored node after node; prefix sums of `edge_count` say where each node's start.
  fn index_edges(&mut self) -> Result<(), SnapshotError> {
    let n = self.node_count();
    let mut first_edge = Vec::with_capacity(n + 1);
    let mut next: u64 = 0;
    for node in 0..n {
      first_edge.push(next.min(u64::from(u32::MAX)) as u32);
      next += u64::from(self.nodes[node * self.layout.node_stride + self.layout.node_edge_count]);
    }
    if next != self.edge_count() as u64 {
      return fail(format!(
        "the nodes' edge counts add up to {next}, but `edges` holds {}",
        self.edge_count()
      ));
    }
    first_edge.push(next as u32);
    self.first_edge = first_edge;
    Ok(())
  }

  fn check_nodes(&self) -> Result<(), SnapshotError> {
    let (types, strings) = (self.node_types.len() as u32, self.strings.len() as u32);
    for node in 0..self.node_count() as u32 {
      if self.node_type(node) >= types || self.node_field(node, self.layout.node_name) >= strings {
        return fail(format!("node {node} has a type or name out of range"));
      }
    }
    Ok(())
  }

  /// Checks every edge and turns its `to_node` (an offset into `nodes`) into the target's node
  /// ordinal, so the search never divides.
  fn resolve_edges(&mut self) -> Result<(), SnapshotError> {
    let (types, strings) = (self.edge_types.len() as u32, self.strings.len() as u32);
    let (element, hidden) = (self.edge_kinds.element, self.edge_kinds.hidden);
    let (l, node_count) = (self.layout.clone(), self.node_count() as u32);
    let stride = Divider::new(l.node_stride as u32);
    for (ordinal, edge) in self.edges.chunks_exact_mut(l.edge_stride).enumerate() {
      let to = edge[l.edge_to];
      let target = stride.quotient(to);
      if target * l.node_stride as u32 != to || target >= node_count {
        return fail(format!("edge {ordinal} points to {to}, which is not a node"));
      }
      edge[l.edge_to] = target;
      let t = edge[l.edge_type];
      let named = Some(t) != element && Some(t) != hidden;
      if t >= types || (named && edge[l.edge_name] >= strings) {
        return fail(format!("edge {ordinal} has a type or name out of range"));
      }
    }
    Ok(())
  }

  pub fn node_count(&self) -> usize {
    self.nodes.len() / self.layout.node_stride
  }

  pub fn edge_count(&self) -> usize {
    self.edges.len() / self.layout.edge_stride
  }

  pub fn strings(&self) -> &StringTable {
    &self.strings
  }

  fn node_field(&self, node: u32, field: usize) -> u32 {
    self.nodes[node as usize * self.layout.node_stride + field]
  }

  fn node_type(&self, node: u32) -> u32 {
    self.node_field(node, self.layout.node_type)
  }

  /// The node's name: constructor name for objects, function name for closures, contents for
  /// strings, category for synthetic roots.
  pub fn node_name(&self, node: u32) -> &[u8] {
    self.strings.get(self.node_field(node, self.layout.node_name) as usize)
  }

  /// V8's object id, stable across snapshots of one process (`@123` in DevTools).
  pub fn node_id(&self, node: u32) -> u32 {
    self.node_field(node, self.layout.node_id)
  }

  pub fn node_type_name(&self, node: u32) -> &str {
    &self.node_types[self.node_type(node) as usize]
  }

  fn is(&self, node: u32, kind: Option<u32>) -> bool {
    kind == Some(self.node_type(node))
  }

  fn edges_of(&self, node: u32) -> std::ops::Range<u32> {
    self.first_edge[node as usize]..self.first_edge[node as usize + 1]
  }

  fn edge_field(&self, edge: u32, field: usize) -> u32 {
    self.edges[edge as usize * self.layout.edge_stride + field]
  }

  fn edge_type(&self, edge: u32) -> u32 {
    self.edge_field(edge, self.layout.edge_type)
  }

  /// The node `edge` points to (an ordinal: `resolve_edges` converted V8's offsets).
  fn edge_target(&self, edge: u32) -> u32 {
    self.edge_field(edge, self.layout.edge_to)
  }

  /// `element` and `hidden` edges carry an index; every other type names a string.
  fn edge_name_is_string(&self, edge_type: u32) -> bool {
    Some(edge_type) != self.edge_kinds.element && Some(edge_type) != self.edge_kinds.hidden
  }

  /// The edge's name, when it is a string (property names, context variables, internal fields).
  fn edge_name(&self, edge: u32) -> Option<&[u8]> {
    let name = self.edge_field(edge, self.layout.edge_name);
    self.edge_name_is_string(self.edge_type(edge)).then(|| self.strings.get(name as usize))
  }

  /// The node whose edge list holds `edge`.
  fn edge_owner(&self, edge: u32) -> u32 {
    (self.first_edge.partition_point(|&first| first <= edge) - 1) as u32
  }

  /// The target of `node`'s first edge of type `kind` named `name`.
  fn child(&self, node: u32, kind: Option<u32>, name: &[u8]) -> Option<u32> {
    self
      .edges_of(node)
      .find(|&e| Some(self.edge_type(e)) == kind && self.edge_name(e) == Some(name))
      .map(|e| self.edge_target(e))
  }
}

// ---------------------------------------------------------------------------------------------
// Module objects: which are the ids asked about, which one is live
// ---------------------------------------------------------------------------------------------

/// One `Module` object found in the snapshot for an asked-about id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleInstance {
  /// Node ordinal in the snapshot.
  pub node: u32,
  /// Index into the ids passed in.
  pub id: usize,
  /// True for the object `Module._cache[id]` holds: the loaded instance, not a leak.
  pub live: bool,
}

/// Looks ids up by the text a snapshot shows for them, which V8 cuts after
/// [`SNAPSHOT_STRING_LIMIT`] UTF-16 units.
struct IdIndex<'a> {
  exact: HashMap<&'a [u8], usize>,
  ids: &'a [&'a str],
}

impl<'a> IdIndex<'a> {
  fn new(ids: &'a [&'a str]) -> Self {
    let mut exact = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
      exact.entry(id.as_bytes()).or_insert(i);
    }
    IdIndex { exact, ids }
  }

  fn find(&self, text: &[u8]) -> Option<usize> {
    if let Some(&i) = self.exact.get(text) {
      return Some(i);
    }
    let cut = std::str::from_utf8(text).ok()?;
    if cut.encode_utf16().count() < SNAPSHOT_STRING_LIMIT {
      return None;
    }
    self.ids.iter().position(|id| id.starts_with(cut))
  }
}

/// Longer string values are not needed to match ids or to name things.
const MAX_STRING_VALUE: usize = 64 << 10;

impl HeapSnapshot {
  /// The text of a string node. Concatenated strings (`a + b` not yet flattened) have no text of
  /// their own in a snapshot: it is put together from their `first` and `second` parts.
  pub fn string_value(&self, node: u32) -> Option<Cow<'_, [u8]>> {
    let k = self.node_kinds;
    if self.is(node, k.string) {
      return Some(Cow::Borrowed(self.node_name(node)));
    }
    if !self.is(node, k.cons_string) {
      return None;
    }
    let mut text = Vec::new();
    let mut stack = vec![node];
    while let Some(part) = stack.pop() {
      if self.is(part, k.string) {
        text.extend_from_slice(self.node_name(part));
      } else if self.is(part, k.cons_string) {
        let first = self.child(part, self.edge_kinds.internal, b"first")?;
        let second = self.child(part, self.edge_kinds.internal, b"second")?;
        stack.extend([second, first]);
      } else {
        return None;
      }
      if text.len() > MAX_STRING_VALUE || stack.len() > MAX_STRING_VALUE {
        return None;
      }
    }
    Some(Cow::Owned(text))
  }

  /// The string value of `node`'s property `name`.
  fn string_property(&self, node: u32, name: &[u8]) -> Option<Cow<'_, [u8]>> {
    self.string_value(self.child(node, self.edge_kinds.property, name)?)
  }

  /// The `Module` objects whose `id` (or `filename`, for the main module whose id is `'.'`) is one
  /// of `ids`, in node order, each marked live or not.
  pub fn module_instances(&self, ids: &[&str]) -> Vec<ModuleInstance> {
    let index = IdIndex::new(ids);
    let module_names = self.strings.indices_of("Module");
    let (mut instances, mut module_functions) = (Vec::new(), Vec::new());
    for node in 0..self.node_count() as u32 {
      if !module_names.contains(&self.node_field(node, self.layout.node_name)) {
        continue;
      }
      if self.is(node, self.node_kinds.closure) {
        module_functions.push(node);
      } else if self.is(node, self.node_kinds.object) {
        if let Some(id) = self.module_id(node, &index) {
          instances.push(ModuleInstance { node, id, live: false });
        }
      }
    }
    let live = self.cached_modules(&module_functions, &index);
    for instance in &mut instances {
      instance.live = live.contains(&instance.node);
    }
    instances
  }

  fn module_id(&self, node: u32, index: &IdIndex) -> Option<usize> {
    let by = |name: &[u8]| self.string_property(node, name).and_then(|text| index.find(&text));
    by(b"id").or_else(|| by(b"filename"))
  }

  /// The values of `Module._cache[id]` for the asked-about ids: the live instances. `Module` is
  /// the constructor function; its `_cache` property is `require.cache`.
  fn cached_modules(&self, module_functions: &[u32], index: &IdIndex) -> Vec<u32> {
    let property = self.edge_kinds.property;
    let mut live = Vec::new();
    for &function in module_functions {
      let Some(cache) = self.child(function, property, b"_cache") else {
        continue;
      };
      for e in self.edges_of(cache) {
        if Some(self.edge_type(e)) == property
          && self.edge_name(e).and_then(|n| index.find(n)).is_some()
        {
          live.push(self.edge_target(e));
        }
      }
    }
    live
  }
}

// ---------------------------------------------------------------------------------------------
// Shortest retaining paths
// ---------------------------------------------------------------------------------------------

/// Node sets as bits: one per node, cheap next to the per-node `u32`s.
struct Bits(Vec<u64>);

impl Bits {
  fn new(n: usize) -> Self {
    Bits(vec![0; n.div_ceil(64)])
  }
  fn get(&self, i: u32) -> bool {
    self.0[i as usize / 64] & (1 << (i % 64)) != 0
  }
  /// Sets bit `i`; true when it was clear.
  fn set(&mut self, i: u32) -> bool {
    let was = self.get(i);
    self.0[i as usize / 64] |= 1 << (i % 64);
    !was
  }
}

/// For every node reached, the edge it was first reached by in a breadth-first search from the
/// root along strong edges: following these back gives a shortest path.
pub struct PathTree {
  parent_edge: Vec<u32>,
  /// The nodes reached, in the order the search reached them: a node's holder on its path
  /// always comes before it.
  order: Vec<u32>,
}

/// The breadth-first search: a queue of node ordinals and the targets still to reach.
struct Search<'a> {
  snapshot: &'a HeapSnapshot,
  parent_edge: Vec<u32>,
  queue: Vec<u32>,
  head: usize,
  targets: Bits,
  remaining: usize,
  never_followed: Vec<u32>,
}

impl Search<'_> {
  /// Runs until the queue is empty or every target is reached.
  fn run(&mut self) {
    let s = self.snapshot;
    let (weak, internal) = (s.edge_kinds.weak.unwrap_or(u32::MAX), s.edge_kinds.internal);
    let l = &s.layout;
    while self.head < self.queue.len() && self.remaining > 0 {
      let node = self.queue[self.head];
      self.head += 1;
      for e in s.edges_of(node) {
        let edge = &s.edges[e as usize * l.edge_stride..][..l.edge_stride];
        let edge_type = edge[l.edge_type];
        let to = edge[l.edge_to];
        if edge_type == weak || self.parent_edge[to as usize] != UNREACHED {
          continue;
        }
        if Some(edge_type) == internal && self.never_followed.contains(&edge[l.edge_name]) {
          continue;
        }
        self.reach(to, e);
      }
    }
  }

  fn reach(&mut self, node: u32, edge: u32) {
    self.parent_edge[node as usize] = edge;
    self.queue.push(node);
    if self.targets.get(node) {
      self.remaining -= 1;
    }
  }
}

impl HeapSnapshot {
  /// The synthetic roots that are bookkeeping (see [`BOOKKEEPING_ROOTS`]), each with the edge
  /// that leads to it from the root or from `(GC roots)`.
  fn bookkeeping_roots(&self) -> Vec<(u32, u32)> {
    let synthetic = self.node_kinds.synthetic;
    let gc_roots = self
      .edges_of(0)
      .map(|e| self.edge_target(e))
      .find(|&n| self.is(n, synthetic) && self.node_name(n) == b"(GC roots)");
    let mut found = Vec::new();
    for holder in std::iter::once(0).chain(gc_roots) {
      for e in self.edges_of(holder) {
        let to = self.edge_target(e);
        let name = self.node_name(to);
        if self.is(to, synthetic) && BOOKKEEPING_ROOTS.iter().any(|r| r.as_bytes() == name) {
          found.push((to, e));
        }
      }
    }
    found
  }

  /// Breadth-first search from the root (node 0) along strong edges: never `weak` edges, never
  /// [`NEVER_FOLLOWED_EDGES`]; bookkeeping roots only once the real roots are exhausted. Stops as
  /// soon as every target is reached. One forward search answers every target at once, and needs
  /// no reverse index (which would cost two more `u32` per edge): a node's parent edge is enough
  /// to walk its path back, the edge's owner being found by binary search in `first_edge`.
  pub fn shortest_paths(&self, targets: &[u32]) -> PathTree {
    let n = self.node_count();
    let mut search = Search {
      snapshot: self,
      parent_edge: vec![UNREACHED; n],
      queue: Vec::new(),
      head: 0,
      targets: Bits::new(n),
      remaining: 0,
      never_followed: NEVER_FOLLOWED_EDGES
        .iter()
        .flat_map(|name| self.strings.indices_of(name))
        .collect(),
    };
    for &t in targets {
      if (t as usize) < n && search.targets.set(t) {
        search.remaining += 1;
      }
    }
    let deferred = self.bookkeeping_roots();
    for &(root, _) in &deferred {
      search.parent_edge[root as usize] = DEFERRED;
    }
    search.parent_edge[0] = START;
    search.queue.push(0);
    if search.targets.get(0) {
      search.remaining -= 1;
    }
    search.run();
    for &(root, edge) in &deferred {
      if search.parent_edge[root as usize] == DEFERRED {
        search.reach(root, edge);
      }
    }
    search.run();
    let mut parent_edge = search.parent_edge;
    for p in parent_edge.iter_mut().filter(|p| **p == DEFERRED) {
      *p = UNREACHED;
    }
    PathTree { parent_edge, order: search.queue }
  }

  /// The edges from the root to `node`, root first; `None` when no strong path reaches it.
  pub fn path_edges(&self, tree: &PathTree, node: u32) -> Option<Vec<u32>> {
    let mut edges = Vec::new();
    let mut at = node;
    loop {
      match *tree.parent_edge.get(at as usize)? {
        START => break,
        UNREACHED => return None,
        edge => {
          edges.push(edge);
          at = self.edge_owner(edge);
        }
      }
      if edges.len() > self.node_count() {
        return None;
      }
    }
    edges.reverse();
    Some(edges)
  }
}

// ---------------------------------------------------------------------------------------------
// Paths in words
// ---------------------------------------------------------------------------------------------

/// One link of a retainer chain: `node` holds the next link through `edge` (the last link is the
/// module itself, with an empty `edge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
  pub node: String,
  pub edge: String,
}

/// Why the module `id` is still in memory: the chain of references from a GC root to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retainer {
  pub id: String,
  pub path: Vec<Step>,
}

/// Names and values quoted in a path are cut to this many characters.
const MAX_LABEL: usize = 120;

fn shorten(text: &str) -> Cow<'_, str> {
  match text.char_indices().nth(MAX_LABEL) {
    Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    None => Cow::Borrowed(text),
  }
}

fn lossy(bytes: &[u8]) -> Cow<'_, str> {
  String::from_utf8_lossy(bytes)
}

/// Where a closure's code starts (0-based, as V8 records it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Location {
  script: u32,
  line: u32,
  column: u32,
}

impl HeapSnapshot {
  fn location(&self, node: u32) -> Option<Location> {
    let l = self.layout.location?;
    let offset = node.checked_mul(self.layout.node_stride as u32)?;
    let index = self.location_index.get_or_init(|| {
      let mut index: Vec<(u32, u32)> = (self.locations.chunks_exact(l.stride).enumerate())
        .map(|(i, r)| (r[l.object], i as u32))
        .collect();
      // Stable: the first record of an object wins, as a linear scan would find it.
      index.sort_by_key(|&(object, _)| object);
      index
    });
    let at = index.partition_point(|&(object, _)| object < offset);
    let &(object, i) = index.get(at)?;
    if object != offset {
      return None;
    }
    let record = &self.locations[i as usize * l.stride..][..l.stride];
    Some(Location { script: record[l.script], line: record[l.line], column: record[l.column] })
  }

  /// A closure's script name: closure → `shared` (SharedFunctionInfo) → `script` (called
  /// `script_or_debug_info` before V8 12) → the Script, which V8 names after its file or URL.
  fn closure_script_name(&self, closure: u32) -> Option<String> {
    let internal = self.edge_kinds.internal;
    let shared = self.child(closure, internal, b"shared")?;
    let script = self
      .child(shared, internal, b"script")
      .or_else(|| self.child(shared, internal, b"script_or_debug_info"))?;
    let name = match self.node_name(script) {
      b"" => self.string_property(script, b"name").or_else(|| {
        let n = self.child(script, internal, b"name")?;
        self.string_value(n)
      })?,
      named => Cow::Borrowed(named),
    };
    (!name.is_empty()).then(|| lossy(&name).into_owned())
  }

  /// The name of script `script_id`, from any located closure of that script, else the id.
  fn script_name(&self, closure: u32, script_id: u32) -> String {
    if let Some(name) = self.closure_script_name(closure) {
      return name;
    }
    let (Some(l), stride) = (self.layout.location, self.layout.node_stride as u32) else {
      return format!("script #{script_id}");
    };
    self
      .locations
      .chunks_exact(l.stride)
      .filter(|r| r[l.script] == script_id && r[l.object] % stride == 0)
      .find_map(|r| self.closure_script_name(r[l.object] / stride))
      .unwrap_or_else(|| format!("script #{script_id}"))
  }

  /// `(closure onTick in /app/plugin.js:12:5)`, `(anonymous closure in ...)`, `(closure f)`;
  /// `state` goes before `closure` (`suspended` for a paused generator or async function).
  fn describe_closure(&self, node: u32, state: &str) -> String {
    let name = lossy(self.node_name(node));
    let what = match name.as_ref() {
      "" => format!("{state}anonymous closure"),
      _ => format!("{state}closure {}", shorten(&name)),
    };
    match self.location(node) {
      Some(at) => {
        let script = self.script_name(node, at.script);
        format!("({what} in {script}:{}:{})", at.line + 1, at.column + 1)
      }
      None => format!("({what})"),
    }
  }

  /// A node in words: what a person would look for in their code.
  pub fn describe_node(&self, node: u32) -> String {
    let k = self.node_kinds;
    if self.is(node, k.string) || self.is(node, k.cons_string) || self.is(node, k.sliced_string) {
      let text = match self.string_value(node) {
        Some(value) => lossy(&value).into_owned(),
        None => lossy(self.node_name(node)).into_owned(),
      };
      return format!("{:?}", shorten(&text));
    }
    if self.is(node, k.closure) {
      return self.describe_closure(node, "");
    }
    let full = lossy(self.node_name(node));
    // With a session, V8 asks the inspector for a global object's URL and appends it:
    // `global / <url>`, `system / NativeContext / <url>`; in Node the URL is empty. Without one
    // (`v8.writeHeapSnapshot()`) the names are bare: one name for both.
    let name = full.strip_suffix(" / ").unwrap_or(&full);
    if self.is(node, k.object) {
      return match name {
        "Module" => self.describe_module(node),
        "system / Context" => "(closure scope)".to_string(),
        // An async function paused at `await` (or a generator at `yield`) keeps its locals in
        // its generator object: name the function, which is what a person can find.
        "Generator" | "AsyncGenerator" => {
          match self.child(node, self.edge_kinds.internal, b"function") {
            Some(function) => self.describe_closure(function, "suspended "),
            None => name.to_string(),
          }
        }
        "" => "(object)".to_string(),
        _ => shorten(name).into_owned(),
      };
    }
    match name {
      "" if self.is(node, k.synthetic) => "(root)".to_string(),
      "" if self.is(node, k.array) => "(internal array)".to_string(),
      "" => format!("({})", self.node_type_name(node)),
      _ if self.is(node, k.regexp) => format!("/{}/", shorten(name)),
      _ => shorten(name).into_owned(),
    }
  }

  fn describe_module(&self, node: u32) -> String {
    match self.string_property(node, b"filename").or_else(|| self.string_property(node, b"id")) {
      Some(file) => format!("Module {}", lossy(&file)),
      None => "Module".to_string(),
    }
  }

  /// An edge in words: the property, variable or internal field name, or `[index]`.
  pub fn describe_edge(&self, edge: u32) -> String {
    match self.edge_name(edge) {
      None => format!("[{}]", self.edge_field(edge, self.layout.edge_name)),
      Some(name) if !name.is_empty() && name.iter().all(u8::is_ascii_digit) => {
        format!("[{}]", lossy(name))
      }
      Some(name) => shorten(&lossy(name)).into_owned(),
    }
  }

  /// The path `edges` (root first) as steps; the nameless root itself is left out, so a path
  /// starts at a root category such as `(GC roots)` or at a global object.
  pub fn render_path(&self, edges: &[u32], target: u32) -> Vec<Step> {
    let mut steps = Vec::with_capacity(edges.len() + 1);
    for &edge in edges {
      let holder = self.edge_owner(edge);
      if holder == 0 {
        continue;
      }
      steps.push(Step { node: self.describe_node(holder), edge: self.describe_edge(edge) });
    }
    steps.push(Step { node: self.describe_node(target), edge: String::new() });
    steps
  }

  /// For each old generation of the modules `ids` (a `Module` object with that id that is not
  /// `Module._cache[id]`) still reachable along strong references: the shortest chain from a GC
  /// root, in words. Modules with no such instance (collected, or only the live one) are left
  /// out. Ordered as `ids`, then by position in the heap.
  pub fn explain_retainers(&self, ids: &[&str]) -> Vec<Retainer> {
    let mut old: Vec<ModuleInstance> =
      self.module_instances(ids).into_iter().filter(|m| !m.live).collect();
    old.sort_by_key(|m| (m.id, m.node));
    let targets: Vec<u32> = old.iter().map(|m| m.node).collect();
    let tree = self.shortest_paths(&targets);
    old
      .iter()
      .filter_map(|m| {
        let edges = self.path_edges(&tree, m.node)?;
        Some(Retainer { id: ids[m.id].to_string(), path: self.render_path(&edges, m.node) })
      })
      .collect()
  }
}

/// Parses a whole snapshot held in memory (tests and tools; the binding streams).
pub fn parse(text: &[u8]) -> Result<HeapSnapshot, SnapshotError> {
  let mut parser = Parser::new();
  parser.push(text)?;
  parser.finish()
}

mod diff;
pub use diff::{new_ids, Growth, GrowthGroup, LeakDiff};

#[cfg(test)]
pub(crate) mod tests {
  use super::*;

  const NODE_TYPES: &[&str] = &[
    "hidden",
    "array",
    "string",
    "object",
    "code",
    "closure",
    "regexp",
    "number",
    "native",
    "synthetic",
    "concatenated string",
    "sliced string",
    "symbol",
    "bigint",
    "object shape",
  ];
  const EDGE_TYPES: &[&str] =
    &["context", "element", "property", "internal", "hidden", "shortcut", "weak"];
  /// Node 20/22's field list; Node 24+ drops `trace_node_id`.
  const V20_NODE_FIELDS: &[&str] =
    &["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"];
  const EDGE_FIELDS: &[&str] = &["type", "name_or_index", "to_node"];

  enum Name {
    Text(String),
    Index(u32),
  }

  struct TestNode {
    kind: &'static str,
    name: String,
    edges: Vec<(&'static str, Name, usize)>,
  }

  /// Writes snapshots the way V8 does (string table with `<dummy>` first, non-ASCII as `\u`
  /// escapes, one node per line), from nodes and edges given by hand.
  struct Builder {
    node_fields: Vec<&'static str>,
    edge_fields: Vec<&'static str>,
    nodes: Vec<TestNode>,
    locations: Vec<[u32; 4]>,
    /// V8 ids and self sizes given by hand (else `2 i + 1` and 16).
    ids: HashMap<usize, u32>,
    sizes: HashMap<usize, u32>,
  }

  impl Builder {
    fn new() -> Self {
      Self::with_fields(V20_NODE_FIELDS, EDGE_FIELDS)
    }

    fn with_fields(node_fields: &[&'static str], edge_fields: &[&'static str]) -> Self {
      let mut b = Builder {
        node_fields: node_fields.to_vec(),
        edge_fields: edge_fields.to_vec(),
        nodes: Vec::new(),
        locations: Vec::new(),
        ids: HashMap::new(),
        sizes: HashMap::new(),
      };
      b.node("synthetic", "");
      b
    }

    fn node(&mut self, kind: &'static str, name: &str) -> usize {
      self.nodes.push(TestNode { kind, name: name.to_string(), edges: Vec::new() });
      self.nodes.len() - 1
    }

    fn edge(&mut self, from: usize, kind: &'static str, name: &str, to: usize) {
      self.nodes[from].edges.push((kind, Name::Text(name.to_string()), to));
    }

    fn element(&mut self, from: usize, index: u32, to: usize) {
      self.nodes[from].edges.push(("element", Name::Index(index), to));
    }

    fn location(&mut self, node: usize, script: u32, line: u32, column: u32) {
      self.locations.push([node as u32, script, line, column]);
    }

    fn json(&self) -> String {
      let mut strings = vec!["<dummy>".to_string()];
      let mut index: HashMap<String, u32> = HashMap::new();
      let mut intern = |s: &str| -> u32 {
        *index.entry(s.to_string()).or_insert_with(|| {
          strings.push(s.to_string());
          strings.len() as u32 - 1
        })
      };
      let stride = self.node_fields.len() as u32;
      let mut node_rows = Vec::new();
      let mut edge_rows = Vec::new();
      for (i, node) in self.nodes.iter().enumerate() {
        let name = intern(&node.name);
        let row: Vec<String> = self
          .node_fields
          .iter()
          .map(|f| match *f {
            "type" => NODE_TYPES.iter().position(|t| *t == node.kind).unwrap() as u32,
            "name" => name,
            "id" => self.ids.get(&i).copied().unwrap_or(2 * i as u32 + 1),
            "self_size" => self.sizes.get(&i).copied().unwrap_or(16),
            "edge_count" => node.edges.len() as u32,
            _ => 0,
          })
          .map(|v| v.to_string())
          .collect();
        node_rows.push(row.join(","));
        for (kind, edge_name, to) in &node.edges {
          let name_or_index = match edge_name {
            Name::Text(t) => intern(t),
            Name::Index(i) => *i,
          };
          let row: Vec<String> = self
            .edge_fields
            .iter()
            .map(|f| match *f {
              "type" => EDGE_TYPES.iter().position(|t| t == kind).unwrap() as u32,
              "name_or_index" => name_or_index,
              "to_node" => *to as u32 * stride,
              _ => 0,
            })
            .map(|v| v.to_string())
            .collect();
          edge_rows.push(row.join(","));
        }
      }
      let locations: Vec<String> =
        self.locations.iter().map(|[n, s, l, c]| format!("{},{s},{l},{c}", n * stride)).collect();
      let quoted =
        |list: &[&str]| list.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",");
      // Parallel to the field list: the enum of type names where `type` is, "number" elsewhere.
      let types = |fields: &[&str], names: &[&str]| {
        let enumerated = format!("[{}]", quoted(names));
        fields
          .iter()
          .map(|f| if *f == "type" { enumerated.clone() } else { "\"number\"".into() })
          .collect::<Vec<_>>()
          .join(",")
      };
      format!(
        concat!(
          "{{\"snapshot\":{{\"meta\":{{\"node_fields\":[{}],\"node_types\":[{}],",
          "\"edge_fields\":[{}],\"edge_types\":[{}],",
          "\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]}},",
          "\"node_count\":{},\"edge_count\":{},\"trace_function_count\":0}},\n",
          "\"nodes\":[{}],\n\"edges\":[{}],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n",
          "\"samples\":[],\n\"locations\":[{}],\n\"strings\":[{}]}}\n"
        ),
        quoted(&self.node_fields),
        types(&self.node_fields, NODE_TYPES),
        quoted(&self.edge_fields),
        types(&self.edge_fields, EDGE_TYPES),
        self.nodes.len(),
        edge_rows.len(),
        node_rows.join("\n,"),
        edge_rows.join("\n,"),
        locations.join(","),
        strings.iter().map(|s| json_string(s)).collect::<Vec<_>>().join(",\n"),
      )
    }
  }

  /// JSON-quotes like V8's serializer: `\u` escapes for control characters and non-ASCII.
  fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
      match unit {
        0x22 => out.push_str("\\\""),
        0x5c => out.push_str("\\\\"),
        0x0a => out.push_str("\\n"),
        0x20..=0x7e => out.push(unit as u8 as char),
        _ => out.push_str(&format!("\\u{unit:04x}")),
      }
    }
    out.push('"');
    out
  }

  /// A small Node process: the roots V8 writes, `require.cache` with the live plugin, and places
  /// that can hold old generations.
  struct World {
    b: Builder,
    gc_roots: usize,
    global_handles: usize,
    stack_roots: usize,
    strong_roots: usize,
    global: usize,
    cache: usize,
  }

  const PLUGIN: &str = "/app/plugin.js";

  impl World {
    fn new() -> Self {
      let mut b = Builder::new();
      let gc_roots = b.node("synthetic", "(GC roots)");
      b.element(0, 1, gc_roots);
      let global = b.node("object", "global");
      b.edge(0, "shortcut", "2", global);
      let stack_roots = b.node("synthetic", "(Stack roots)");
      let global_handles = b.node("synthetic", "(Global handles)");
      let strong_roots = b.node("synthetic", "(Strong roots)");
      for (i, root) in [stack_roots, global_handles, strong_roots].into_iter().enumerate() {
        b.element(gc_roots, i as u32 + 1, root);
      }
      let module_fn = b.node("closure", "Module");
      b.edge(global, "property", "Module", module_fn);
      let cache = b.node("object", "Object");
      b.edge(module_fn, "property", "_cache", cache);
      World { b, gc_roots, global_handles, stack_roots, strong_roots, global, cache }
    }

    /// A `Module` object for `file`, held by nothing yet.
    fn module(&mut self, file: &str) -> usize {
      let m = self.b.node("object", "Module");
      let id = self.b.node("string", file);
      self.b.edge(m, "property", "id", id);
      self.b.edge(m, "property", "filename", id);
      m
    }

    /// The loaded instance of `file`: `require.cache[file]`.
    fn live_module(&mut self, file: &str) -> usize {
      let m = self.module(file);
      self.b.edge(self.cache, "property", file, m);
      m
    }

    /// `from --edge--> Object --edge--> ...` with `hops` plain objects before `to`.
    fn chain(&mut self, from: usize, hops: usize, to: usize) {
      let mut at = from;
      for i in 0..hops {
        let next = self.b.node("object", &format!("Hop{i}"));
        self.b.edge(at, "property", &format!("hop{i}"), next);
        at = next;
      }
      self.b.edge(at, "property", "held", to);
    }

    fn snapshot(&self) -> HeapSnapshot {
      parse(self.b.json().as_bytes()).expect("the test snapshot parses")
    }
  }

  fn steps(path: &[(&str, &str)]) -> Vec<Step> {
    path
      .iter()
      .map(|(node, edge)| Step { node: node.to_string(), edge: edge.to_string() })
      .collect()
  }

  fn explain(s: &HeapSnapshot, ids: &[&str]) -> Vec<Retainer> {
    s.explain_retainers(ids)
  }

  /// The world of the timer leak: the old plugin is held by its interval's callback.
  fn timer_world() -> (World, usize, usize) {
    let mut w = World::new();
    let live = w.live_module(PLUGIN);
    let old = w.module(PLUGIN);
    let clear_interval = w.b.node("closure", "clearInterval");
    w.b.edge(w.global, "property", "clearInterval", clear_interval);
    let timers_scope = w.b.node("object", "system / Context");
    w.b.edge(clear_interval, "internal", "context", timers_scope);
    let lists = w.b.node("object", "Object");
    w.b.edge(timers_scope, "context", "timerListMap", lists);
    let list = w.b.node("object", "TimersList");
    w.b.edge(lists, "property", "60000", list);
    let timeout = w.b.node("object", "Timeout");
    w.b.edge(list, "property", "_idlePrev", timeout);
    let on_tick = w.b.node("closure", "onTick");
    w.b.edge(timeout, "property", "_onTimeout", on_tick);
    let scope = w.b.node("object", "system / Context");
    w.b.edge(on_tick, "internal", "context", scope);
    w.b.edge(scope, "context", "module", old);
    let shared = w.b.node("code", "onTick");
    w.b.edge(on_tick, "internal", "shared", shared);
    let script = w.b.node("code", PLUGIN);
    w.b.edge(shared, "internal", "script", script);
    w.b.location(on_tick, 7, 11, 4);
    (w, live, old)
  }

  // ----- parsing ---------------------------------------------------------------------------

  /// Typed out by hand in V8's layout (Node 24's fields: no `trace_node_id`): the root, (GC roots),
  /// the global object holding a Module through `registry`, and a weak edge to the id string.
  const HAND_WRITTEN: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],"trace_function_info_fields":["function_id","name","script_name","script_id","line","column"],"trace_node_fields":["id","function_info_index","count","size","children"],"sample_fields":["timestamp_us","last_assigned_id"],"location_fields":["object_index","script_id","line","column"]},"node_count":5,"edge_count":6,"trace_function_count":0,"extra_native_bytes":0},
"nodes":[9,0,1,0,2,0
,9,1,3,0,1,0
,3,2,5,32,2,0
,3,3,7,48,1,0
,2,4,9,24,0,0],
"edges":[1,1,6
,5,5,12
,1,1,12
,2,6,18
,6,7,24
,2,8,24],
"trace_function_infos":[],
"trace_tree":[],
"samples":[],
"locations":[],
"strings":["","(GC roots)","global","Module","\/app\/a.js","2","registry","weak","id"]}
"#;

  #[test]
  fn reads_a_hand_written_snapshot() {
    let s = parse(HAND_WRITTEN.as_bytes()).unwrap();
    assert_eq!((s.node_count(), s.edge_count()), (5, 6));
    assert_eq!(s.node_name(1), b"(GC roots)");
    assert_eq!(s.node_name(4), b"/app/a.js");
    assert_eq!(s.node_type_name(3), "object");
    assert_eq!(s.node_id(2), 5);
    assert_eq!(s.strings().len(), 9);
    assert_eq!(s.edges_of(2), 3..5);
    assert_eq!(s.edge_owner(2), 1);
    assert_eq!(s.edge_owner(5), 3);
    assert_eq!(s.describe_edge(0), "[1]");
    assert_eq!(s.describe_edge(1), "[2]", "a shortcut named by digits reads as an index");
    assert_eq!(s.describe_edge(3), "registry");
    let expected = steps(&[("global", "registry"), ("Module /app/a.js", "")]);
    assert_eq!(explain(&s, &["/app/a.js"]), [Retainer { id: "/app/a.js".into(), path: expected }]);
  }

  #[test]
  fn counts_that_disagree_with_the_arrays_are_an_error() {
    let text = HAND_WRITTEN.replace("\"edge_count\":6", "\"edge_count\":5");
    let error = parse(text.as_bytes()).unwrap_err();
    assert!(error.0.contains("announces 5 nodes and 5 edges, the arrays hold 5 and 6"), "{error}");
    let text =
      HAND_WRITTEN.replace(",\"edge_count\":6", "").replace(",3,3,7,48,1,0", ",3,3,7,48,2,0");
    let error = parse(text.as_bytes()).unwrap_err();
    assert!(error.0.contains("edge counts add up to 7, but `edges` holds 6"), "{error}");
  }

  /// Everything the parser keeps, to compare two parses.
  #[derive(PartialEq)]
  struct Digest {
    nodes: Vec<u32>,
    edges: Vec<u32>,
    locations: Vec<u32>,
    strings: Vec<u8>,
    string_ends: Vec<usize>,
  }

  fn digest(s: &HeapSnapshot) -> Digest {
    Digest {
      nodes: s.nodes.clone(),
      edges: s.edges.clone(),
      locations: s.locations.clone(),
      strings: s.strings.bytes.clone(),
      string_ends: s.strings.ends.clone(),
    }
  }

  fn parse_in_pieces(text: &[u8], cuts: &[usize]) -> Result<HeapSnapshot, SnapshotError> {
    let mut parser = Parser::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([&text.len()]) {
      parser.push(&text[from..cut])?;
      from = cut;
    }
    parser.finish()
  }

  #[test]
  fn chunks_split_at_every_byte_give_the_same_snapshot() {
    let (w, _, _) = timer_world();
    let mut text = w.b.json();
    text = text
      .replace("\"strings\":[", "\"strings\":[\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/\",");
    let text =
      text.replace("\"trace_tree\":[]", "\"trace_tree\":[{\"a\":\"]}\\\"\"},[1,[2]],-1.5e3,true]");
    // The extra string shifts every name index by one; the digest only compares parses.
    let text = text.as_bytes();
    let whole = digest(&parse_in_pieces(text, &[]).unwrap());
    for cut in 0..=text.len() {
      let split = parse_in_pieces(text, &[cut]).unwrap_or_else(|e| panic!("split at {cut}: {e}"));
      assert!(digest(&split) == whole, "split at {cut} differs");
    }
    let every_byte: Vec<usize> = (1..text.len()).collect();
    assert!(digest(&parse_in_pieces(text, &every_byte).unwrap()) == whole);
  }

  #[test]
  fn explains_the_same_at_every_split() {
    let (w, _, _) = timer_world();
    let text = w.b.json();
    let expected = explain(&w.snapshot(), &[PLUGIN]);
    assert_eq!(expected.len(), 1);
    for cut in (0..=text.len()).step_by(7) {
      let s = parse_in_pieces(text.as_bytes(), &[cut, (cut + 3).min(text.len())]).unwrap();
      assert_eq!(explain(&s, &[PLUGIN]), expected, "split at {cut}");
    }
  }

  #[test]
  fn decodes_escapes_and_unicode_in_strings() {
    let texts = [
      r#""a\"b""#,
      r#""back\\slash""#,
      r#""\/app\/x.js""#,
      r#""caf\u00e9""#,
      "\"caf\u{e9} raw utf-8\"",
      r#""\ud83d\ude00 grin""#,
      r#""lone \ud800 high""#,
      r#""lone \udc00 low""#,
      r#""high at end \ud83d""#,
      r#""high then escape \ud83d\n""#,
      r#""\b\f\n\r\t""#,
      r#""\u0000nul""#,
      r#""""#,
    ];
    let expected = [
      "a\"b",
      "back\\slash",
      "/app/x.js",
      "café",
      "café raw utf-8",
      "😀 grin",
      "lone \u{FFFD} high",
      "lone \u{FFFD} low",
      "high at end \u{FFFD}",
      "high then escape \u{FFFD}\n",
      "\u{8}\u{c}\n\r\t",
      "\u{0}nul",
      "",
    ];
    let body = format!("[{}]", texts.join(" , "));
    let body = body.as_bytes();
    for cut in 0..body.len() {
      let mut table = StringTable::default();
      let mut array = StringArray::new();
      assert_eq!(array.feed(&body[..cut], &mut table).unwrap(), None, "split at {cut}");
      assert_eq!(
        array.feed(&body[cut..], &mut table).unwrap(),
        Some(body.len() - cut),
        "split at {cut}"
      );
      let got: Vec<String> =
        (0..table.len()).map(|i| String::from_utf8(table.get(i).to_vec()).unwrap()).collect();
      assert_eq!(got, expected, "split at {cut}");
    }
  }

  #[test]
  fn rejects_bad_escapes_and_raw_control_characters() {
    for bad in
      [r#"["\x"]"#, r#"["\u12g4"]"#, "[\"tab\there\"]", r#"["a" "b"]"#, r#"[,"a"]"#, r#"["a",]"#]
    {
      let mut array = StringArray::new();
      assert!(array.feed(bad.as_bytes(), &mut StringTable::default()).is_err(), "{bad}");
    }
  }

  #[test]
  fn reads_number_arrays_with_any_spacing() {
    let mut out = Vec::new();
    let text = b" [ 0 ,1,\n22 , 4294967295,4294967296000 ] ";
    assert_eq!(NumberArray::new().feed(text, &mut out).unwrap(), Some(text.len() - 1));
    assert_eq!(out, [0, 1, 22, u32::MAX, u32::MAX]);
    let mut empty = Vec::new();
    assert_eq!(NumberArray::new().feed(b"[ ]", &mut empty).unwrap(), Some(3));
    assert!(empty.is_empty());
    for bad in ["[1,]", "[-1]", "[1.5]", "[1 2]", "[,]", "{", "[1e3]", "[null]"] {
      assert!(NumberArray::new().feed(bad.as_bytes(), &mut Vec::new()).is_err(), "{bad}");
    }
  }

  #[test]
  fn skips_unknown_sections_of_any_shape() {
    let (w, _, _) = timer_world();
    let plain = w.b.json();
    let expected = digest(&parse(plain.as_bytes()).unwrap());
    let extra =
      r#""future":{"a":["]","}",{"b":"\"}]"}],"c":null},"n":-12.5e-3,"t":true,"s":"x\\","#;
    let with_extra = plain.replacen("{\"snapshot\"", &format!("{{{extra}\"snapshot\""), 1);
    let with_extra = with_extra.replace("\"samples\":[]", "\"samples\":[1,2,3],\"last\":false");
    assert!(digest(&parse(with_extra.as_bytes()).unwrap()) == expected);
  }

  #[test]
  fn sections_may_come_in_any_order() {
    let (w, _, _) = timer_world();
    let text = w.b.json();
    let snapshot_end = text.find("\n\"nodes\"").unwrap();
    let header = &text[1..snapshot_end];
    let rest = &text[snapshot_end + 1..text.len() - 2];
    let reordered = format!("{{{rest},\n{}}}", header.trim_end_matches(','));
    assert_eq!(
      explain(&parse(reordered.as_bytes()).unwrap(), &[PLUGIN]),
      explain(&w.snapshot(), &[PLUGIN])
    );
  }

  #[test]
  fn field_lists_are_read_from_meta() {
    let (w, _, _) = timer_world();
    let expected = explain(&w.snapshot(), &[PLUGIN]);
    let layouts: [(&[&str], &[&str]); 3] = [
      (&["type", "name", "id", "self_size", "edge_count", "detachedness"], EDGE_FIELDS),
      (&["type", "name", "id", "self_size", "edge_count"], EDGE_FIELDS),
      (
        &["edge_count", "future_field", "id", "name", "type"],
        &["to_node", "type", "weight", "name_or_index"],
      ),
    ];
    for (node_fields, edge_fields) in layouts {
      let mut b = Builder::with_fields(node_fields, edge_fields);
      b.nodes = std::mem::take(&mut timer_world().0.b.nodes);
      b.locations = w.b.locations.clone();
      let s = parse(b.json().as_bytes()).unwrap();
      assert_eq!(explain(&s, &[PLUGIN]), expected, "{node_fields:?} / {edge_fields:?}");
    }
  }

  #[test]
  fn missing_meta_fields_are_named() {
    let text = Builder::new().json();
    for (from, to, message) in [
      ("\"edge_count\",", "\"edges\",", "node_fields has no `edge_count` field"),
      ("\"to_node\"", "\"target\"", "edge_fields has no `to_node` field"),
      ("\"node_fields\"", "\"fields\"", "snapshot.meta.node_fields is missing"),
      ("\"meta\"", "\"about\"", "snapshot.meta is missing"),
      ("\"strings\"", "\"strings2\"", "no `strings` section"),
    ] {
      let error = parse(text.replacen(from, to, 1).as_bytes()).unwrap_err();
      assert!(error.0.contains(message), "{from}: {error}");
    }
  }

  #[test]
  fn every_truncation_is_an_error_not_a_panic() {
    let (w, _, _) = timer_world();
    let text = w.b.json();
    let end = text.trim_end().len();
    for cut in 0..end {
      assert!(parse(&text.as_bytes()[..cut]).is_err(), "cut at {cut} parsed");
    }
    let error = parse(&text.as_bytes()[..text.find("\"edges\"").unwrap() + 12]).unwrap_err();
    assert!(error.0.contains("ends early inside `edges`"), "{error}");
  }

  #[test]
  fn malformed_documents_are_rejected_with_a_position() {
    let good = Builder::new().json();
    let cases = [
      ("[]".to_string(), "expected '{'"),
      ("{\"snapshot\":{}}".to_string(), "snapshot.meta is missing"),
      (format!("{good} x"), "after the end of the snapshot"),
      (good.replacen("\"nodes\":[", "\"nodes\":[-", 1), "expected an unsigned integer"),
      (good.replacen("\"nodes\":", "\"nodes\" ", 1), "expected ':'"),
      (good.replacen(",\n\"edges\"", "\n\"edges\"", 1), "expected ',' or '}'"),
      (good.replacen("\"samples\":[]", "\"samples\":[],\"strings\":[]", 1), "appears twice"),
      (
        good.replacen("{\"snapshot\"", "{\"snapshot\":{\"meta\":1},\"x\"", 1),
        "node_fields is missing",
      ),
    ];
    for (text, message) in cases {
      let error = parse(text.as_bytes()).unwrap_err();
      assert!(error.0.contains(message), "wanted {message:?}, got {error}");
    }
    let error = parse(good.replacen("\"nodes\":[", "\"nodes\":[-", 1).as_bytes()).unwrap_err();
    assert!(
      error.0.contains(&format!("(at byte {})", good.find("\"nodes\":[").unwrap() + 9)),
      "{error}"
    );
  }

  #[test]
  fn out_of_range_references_are_rejected() {
    let mut b = Builder::new();
    let a = b.node("object", "A");
    b.edge(0, "property", "a", a);
    let text = b.json();
    let stride = V20_NODE_FIELDS.len();
    let bad_target = text.replacen(&format!(",{stride}]"), &format!(",{}]", 2 * stride), 1);
    assert!(parse(bad_target.as_bytes()).unwrap_err().0.contains("is not a node"));
    let unaligned = text.replacen(&format!(",{stride}]"), &format!(",{}]", stride + 1), 1);
    assert!(parse(unaligned.as_bytes()).unwrap_err().0.contains("is not a node"));
    let bad_type = text.replacen("\"edges\":[2,", "\"edges\":[9,", 1);
    assert!(parse(bad_type.as_bytes()).unwrap_err().0.contains("type or name out of range"));
    let bad_name = text.replacen("\"nodes\":[9,1,", "\"nodes\":[9,99,", 1);
    assert!(parse(bad_name.as_bytes())
      .unwrap_err()
      .0
      .contains("node 0 has a type or name out of range"));
  }

  #[test]
  fn an_error_sticks() {
    let mut parser = Parser::new();
    assert!(parser.push(b"[").is_err());
    let again = parser.push(b"{").unwrap_err();
    assert!(again.0.contains("expected '{'"), "{again}");
    assert!(parser.finish().is_err());
  }

  #[test]
  fn the_header_is_bounded() {
    let mut parser = Parser::new();
    parser.push(b"{\"snapshot\":\"").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let failed = (0..20).any(|_| parser.push(&chunk).is_err());
    assert!(failed, "a 20 MB header was accepted");
  }

  #[test]
  fn division_by_the_stride_is_exact() {
    let samples =
      (0..100_000u32).chain((0..100_000).map(|i| u32::MAX - i)).chain((0..32).map(|b| 1u32 << b));
    let samples: Vec<u32> = samples.collect();
    for divisor in 1..=256 {
      let d = Divider::new(divisor);
      for &n in &samples {
        assert_eq!(d.quotient(n), n / divisor, "{n} / {divisor}");
      }
    }
  }

  /// Parse and explain speed on a real file, without Node:
  /// `HEAPSNAPSHOT=file.heapsnapshot IDS=/a.js,/b.js cargo test --release heapsnapshot::tests::speed -- --ignored --nocapture`
  #[test]
  #[ignore]
  fn speed() {
    let file = std::env::var("HEAPSNAPSHOT").expect("HEAPSNAPSHOT names a .heapsnapshot file");
    let ids = std::env::var("IDS").unwrap_or_default();
    let ids: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
    let text = std::fs::read(&file).unwrap();
    let start = std::time::Instant::now();
    let mut parser = Parser::new();
    for chunk in text.chunks(1 << 20) {
      parser.push(chunk).unwrap();
    }
    let s = parser.finish().unwrap();
    let parsed = start.elapsed();
    let retainers = s.explain_retainers(&ids);
    println!(
      "{s:?}: parse {parsed:?}, explain {:?}, {} retainers",
      start.elapsed() - parsed,
      retainers.len()
    );
  }

  // ----- which modules, which paths --------------------------------------------------------

  #[test]
  fn explains_an_old_generation_held_by_a_timer() {
    let (w, live, old) = timer_world();
    let s = w.snapshot();
    let instances = s.module_instances(&[PLUGIN]);
    assert_eq!(
      instances,
      [
        ModuleInstance { node: live as u32, id: 0, live: true },
        ModuleInstance { node: old as u32, id: 0, live: false }
      ]
    );
    let expected = steps(&[
      ("global", "clearInterval"),
      ("(closure clearInterval)", "context"),
      ("(closure scope)", "timerListMap"),
      ("Object", "[60000]"),
      ("TimersList", "_idlePrev"),
      ("Timeout", "_onTimeout"),
      ("(closure onTick in /app/plugin.js:12:5)", "context"),
      ("(closure scope)", "module"),
      ("Module /app/plugin.js", ""),
    ]);
    assert_eq!(explain(&s, &[PLUGIN]), [Retainer { id: PLUGIN.into(), path: expected }]);
  }

  #[test]
  fn the_live_instance_alone_is_not_a_leak() {
    let mut w = World::new();
    w.live_module(PLUGIN);
    assert_eq!(explain(&w.snapshot(), &[PLUGIN]), []);
  }

  #[test]
  fn collected_and_unknown_modules_are_omitted() {
    let mut w = World::new();
    let old = w.module(PLUGIN);
    let unreachable = w.module("/app/garbage.js");
    let _ = unreachable;
    w.chain(w.global, 0, old);
    let s = w.snapshot();
    let got = explain(&s, &["/app/never-loaded.js", PLUGIN, "/app/garbage.js", PLUGIN]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, PLUGIN);
    assert_eq!(got[0].path, steps(&[("global", "held"), ("Module /app/plugin.js", "")]));
    assert_eq!(explain(&s, &[]), []);
  }

  #[test]
  fn without_require_cache_every_instance_is_old() {
    let mut b = Builder::new();
    let m = b.node("object", "Module");
    let id = b.node("string", PLUGIN);
    b.edge(m, "property", "id", id);
    b.edge(0, "element", "1", m);
    let s = parse(b.json().as_bytes()).unwrap();
    let got = explain(&s, &[PLUGIN]);
    assert_eq!(got[0].path, steps(&[("Module /app/plugin.js", "")]));
  }

  #[test]
  fn takes_the_shorter_of_two_paths() {
    let mut w = World::new();
    let old = w.module(PLUGIN);
    w.chain(w.global, 5, old);
    w.chain(w.global_handles, 2, old);
    w.chain(w.global, 4, old);
    let path = &explain(&w.snapshot(), &[PLUGIN])[0].path;
    let names: Vec<&str> = path.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(names, ["(GC roots)", "(Global handles)", "Hop0", "Hop1", "Module /app/plugin.js"]);
    assert_eq!(path[0].edge, "[2]");
  }

  #[test]
  fn weak_edges_are_not_followed() {
    let mut w = World::new();
    let held_weakly = w.module("/app/weak.js");
    let both = w.module(PLUGIN);
    let weak_ref = w.b.node("object", "WeakRef");
    w.b.edge(w.global, "property", "ref", weak_ref);
    w.b.edge(weak_ref, "weak", "target", held_weakly);
    w.b.edge(weak_ref, "weak", "target", both);
    w.chain(w.global, 3, both);
    let got = explain(&w.snapshot(), &["/app/weak.js", PLUGIN]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, PLUGIN);
    assert_eq!(got[0].path.len(), 5, "{:?}", got[0].path);
    assert!(got[0].path.iter().all(|s| s.edge != "target"));
  }

  #[test]
  fn the_weakref_keep_alive_list_is_not_a_holder() {
    let mut w = World::new();
    let kept_for_job = w.module("/app/kept.js");
    let also_real = w.module(PLUGIN);
    let list = w.b.node("array", "");
    w.b.edge(w.strong_roots, "internal", "weak_refs_keep_during_job", list);
    w.b.element(list, 0, kept_for_job);
    w.b.element(list, 1, also_real);
    w.chain(w.global, 6, also_real);
    let got = explain(&w.snapshot(), &["/app/kept.js", PLUGIN]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].path[0].node, "global");
  }

  #[test]
  fn bookkeeping_roots_are_searched_last() {
    let mut w = World::new();
    let both = w.module(PLUGIN);
    w.chain(w.stack_roots, 0, both);
    w.chain(w.global, 4, both);
    let stack_only = w.module("/app/local.js");
    w.chain(w.stack_roots, 1, stack_only);
    let got = explain(&w.snapshot(), &[PLUGIN, "/app/local.js"]);
    assert_eq!(got[0].path[0].node, "global", "{:?}", got[0].path);
    assert_eq!(got[0].path.len(), 6);
    let stack_path: Vec<&str> = got[1].path.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(stack_path, ["(GC roots)", "(Stack roots)", "Hop0", "Module /app/local.js"]);
    assert_eq!(s_edges(&got[1].path), ["[1]", "hop0", "held", ""]);
  }

  fn s_edges(path: &[Step]) -> Vec<&str> {
    path.iter().map(|s| s.edge.as_str()).collect()
  }

  #[test]
  fn paths_end_at_each_old_generation() {
    let mut w = World::new();
    w.live_module(PLUGIN);
    let first = w.module(PLUGIN);
    let second = w.module(PLUGIN);
    let other = w.module("/app/other.js");
    let registry = w.b.node("object", "Array");
    w.b.edge(w.global, "property", "registry", registry);
    w.b.element(registry, 0, second);
    w.b.element(registry, 1, other);
    w.b.element(registry, 2, first);
    let got = explain(&w.snapshot(), &["/app/other.js", PLUGIN]);
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["/app/other.js", PLUGIN, PLUGIN]);
    assert_eq!(
      got[1].path,
      steps(&[("global", "registry"), ("Array", "[2]"), ("Module /app/plugin.js", "")])
    );
    assert_eq!(got[2].path[1].edge, "[0]");
  }

  #[test]
  fn ids_held_in_concatenated_strings_match() {
    let mut w = World::new();
    let m = w.b.node("object", "Module");
    let cons = w.b.node("concatenated string", "(concatenated string)");
    let left = w.b.node("string", "/app/");
    let inner = w.b.node("concatenated string", "(concatenated string)");
    let (mid, right) = (w.b.node("string", "plug"), w.b.node("string", "in.js"));
    w.b.edge(m, "property", "id", cons);
    w.b.edge(cons, "internal", "first", left);
    w.b.edge(cons, "internal", "second", inner);
    w.b.edge(inner, "internal", "first", mid);
    w.b.edge(inner, "internal", "second", right);
    w.chain(w.global, 0, m);
    let s = w.snapshot();
    assert_eq!(s.string_value(cons as u32).as_deref(), Some(PLUGIN.as_bytes()));
    assert_eq!(explain(&s, &[PLUGIN])[0].path[1].node, "Module /app/plugin.js");
  }

  #[test]
  fn the_main_module_matches_by_filename() {
    let mut w = World::new();
    let m = w.b.node("object", "Module");
    let (dot, file) = (w.b.node("string", "."), w.b.node("string", "/app/main.js"));
    w.b.edge(m, "property", "id", dot);
    w.b.edge(m, "property", "filename", file);
    w.chain(w.global, 0, m);
    assert_eq!(explain(&w.snapshot(), &["/app/main.js"])[0].id, "/app/main.js");
  }

  #[test]
  fn ids_longer_than_v8_keeps_still_match() {
    let long = format!("/app/{}/x.js", "d".repeat(1500));
    let cut: String = long.chars().take(SNAPSHOT_STRING_LIMIT).collect();
    let mut w = World::new();
    let m = w.module(&cut);
    w.chain(w.global, 0, m);
    let got = explain(&w.snapshot(), &["/app/short.js", &long]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, long);
    assert_eq!(
      explain(&w.snapshot(), &[&long[..long.len() - 1]]).len(),
      1,
      "a prefix of the cut text is ambiguous: first wins"
    );
  }

  #[test]
  fn a_module_object_of_another_id_is_ignored() {
    let mut w = World::new();
    let other = w.module("/app/other.js");
    w.chain(w.global, 0, other);
    let lookalike = w.b.node("object", "NotModule");
    let id = w.b.node("string", PLUGIN);
    w.b.edge(lookalike, "property", "id", id);
    w.chain(w.global, 0, lookalike);
    assert_eq!(explain(&w.snapshot(), &[PLUGIN]), []);
  }

  // ----- names -----------------------------------------------------------------------------

  #[test]
  fn closures_are_named_with_file_line_and_column() {
    let (mut w, _, _) = timer_world();
    let anonymous = w.b.node("closure", "");
    w.b.location(anonymous, 7, 0, 0);
    let unlocated = w.b.node("closure", "helper");
    let old_v8 = w.b.node("closure", "legacy");
    let shared = w.b.node("code", "legacy");
    let script = w.b.node("code", "");
    let script_name = w.b.node("string", "node:internal/timers");
    w.b.edge(old_v8, "internal", "shared", shared);
    w.b.edge(shared, "internal", "script_or_debug_info", script);
    w.b.edge(script, "internal", "name", script_name);
    w.b.location(old_v8, 3, 99, 0);
    let nameless_script = w.b.node("closure", "lost");
    w.b.location(nameless_script, 42, 1, 2);
    let paused = w.b.node("object", "Generator");
    w.b.edge(paused, "internal", "function", anonymous);
    let s = w.snapshot();
    assert_eq!(s.describe_node(anonymous as u32), "(anonymous closure in /app/plugin.js:1:1)");
    assert_eq!(
      s.describe_node(paused as u32),
      "(suspended anonymous closure in /app/plugin.js:1:1)"
    );
    assert_eq!(s.describe_node(unlocated as u32), "(closure helper)");
    assert_eq!(s.describe_node(old_v8 as u32), "(closure legacy in node:internal/timers:100:1)");
    assert_eq!(s.describe_node(nameless_script as u32), "(closure lost in script #42:2:3)");
  }

  #[test]
  fn nodes_and_edges_read_as_code() {
    let mut w = World::new();
    let text = w.b.node("string", "line\nbreak \"quoted\"");
    let long = w.b.node("string", &"x".repeat(500));
    let re = w.b.node("regexp", "^a+$");
    let arr = w.b.node("array", "");
    let named_arr = w.b.node("array", "(object elements)");
    let code = w.b.node("code", "");
    let obj = w.b.node("object", "");
    let inspector_global = w.b.node("object", "global / ");
    let inspector_context = w.b.node("hidden", "system / NativeContext / ");
    let string_with_slash = w.b.node("string", "a / ");
    w.b.edge(w.global, "property", "7", text);
    w.b.edge(w.global, "property", "", obj);
    w.b.edge(w.global, "internal", "<symbol node:module_last_parent>", obj);
    let s = w.snapshot();
    assert_eq!(s.describe_node(text as u32), r#""line\nbreak \"quoted\"""#);
    assert_eq!(s.describe_node(long as u32).chars().count(), MAX_LABEL + 3);
    assert_eq!(s.describe_node(re as u32), "/^a+$/");
    assert_eq!(s.describe_node(arr as u32), "(internal array)");
    assert_eq!(s.describe_node(named_arr as u32), "(object elements)");
    assert_eq!(s.describe_node(code as u32), "(code)");
    assert_eq!(s.describe_node(obj as u32), "(object)");
    assert_eq!(s.describe_node(inspector_global as u32), "global");
    assert_eq!(s.describe_node(inspector_context as u32), "system / NativeContext");
    assert_eq!(
      s.describe_node(string_with_slash as u32),
      r#""a / ""#,
      "string contents are kept as they are"
    );
    assert_eq!(s.describe_node(0), "(root)");
    assert_eq!(s.describe_node(w.gc_roots as u32), "(GC roots)");
    let edges: Vec<String> = s.edges_of(w.global as u32).map(|e| s.describe_edge(e)).collect();
    assert_eq!(edges[edges.len() - 3..], ["[7]", "", "<symbol node:module_last_parent>"]);
  }

  // ----- the three-snapshot diff -------------------------------------------------------------

  /// A process after some reloads: a timer list whose Timeouts (ids `timers`) each hold a
  /// closure over a 1 MB buffer, a global registry with one entry per reload (ids `entries`),
  /// and, when `transient`, an object that a later collection frees. Ids are given by hand so
  /// that the same object has the same id in each snapshot, as in V8.
  fn reloads(timers: &[u32], entries: &[u32], transient: bool) -> String {
    let mut b = Builder::new();
    let id = |b: &mut Builder, node: usize, id: u32, size: u32| {
      b.ids.insert(node, id);
      b.sizes.insert(node, size);
    };
    let gc_roots = b.node("synthetic", "(GC roots)");
    b.element(0, 1, gc_roots);
    id(&mut b, gc_roots, 3, 0);
    let global = b.node("object", "global");
    b.edge(0, "shortcut", "2", global);
    id(&mut b, global, 5, 64);
    let list = b.node("object", "TimersList");
    b.edge(global, "property", "timerList", list);
    id(&mut b, list, 7, 48);
    let registry = b.node("array", "Array");
    b.edge(global, "property", "registry", registry);
    id(&mut b, registry, 9, 32);
    let script = b.node("code", "/app/plugin.js");
    id(&mut b, script, 11, 100);
    b.edge(global, "internal", "script", script);
    let mut nodes = Vec::new();
    for &t in timers {
      let timeout = b.node("object", "Timeout");
      id(&mut b, timeout, t, 100);
      let closure = b.node("closure", "");
      id(&mut b, closure, t + 2, 50);
      b.edge(timeout, "property", "_onTimeout", closure);
      let shared = b.node("code", "");
      id(&mut b, shared, t + 4, 50);
      b.edge(closure, "internal", "shared", shared);
      b.edge(shared, "internal", "script", script);
      b.location(closure, 9, 1, 27);
      let scope = b.node("object", "system / Context");
      id(&mut b, scope, t + 6, 40);
      b.edge(closure, "internal", "context", scope);
      let buffer = b.node("object", "ArrayBuffer");
      id(&mut b, buffer, t + 8, 80);
      b.edge(scope, "context", "big", buffer);
      let data = b.node("native", "system / JSArrayBufferData");
      id(&mut b, data, t + 10, 1 << 20);
      b.edge(buffer, "internal", "backing_store", data);
      nodes.push(timeout);
    }
    // A doubly linked list through the list head, as Node's timer lists are.
    let ring: Vec<usize> = std::iter::once(list).chain(nodes.iter().copied()).collect();
    for (i, &node) in ring.iter().enumerate() {
      b.edge(node, "property", "_idleNext", ring[(i + 1) % ring.len()]);
      b.edge(node, "property", "_idlePrev", ring[(i + ring.len() - 1) % ring.len()]);
    }
    for (i, &e) in entries.iter().enumerate() {
      let entry = b.node("object", "Object");
      id(&mut b, entry, e, 200);
      b.element(registry, i as u32, entry);
      let name = b.node("string", &format!("plugin generation {e}"));
      id(&mut b, name, e + 2, 40);
      b.edge(entry, "property", "name", name);
    }
    if transient {
      let garbage = b.node("object", "Scratch");
      id(&mut b, garbage, 999_001, 5000);
      b.edge(global, "property", "scratch", garbage);
    }
    b.json()
  }

  /// Timer and entry ids of reload `r` (ids far apart, so each object's parts fit between).
  fn timer(r: u32) -> u32 {
    1001 + 100 * r
  }
  fn entry(r: u32) -> u32 {
    50_001 + 100 * r
  }

  #[test]
  fn ids_only_keeps_every_node_id_sorted_whatever_the_chunks() {
    let text = reloads(&[timer(3), timer(1), timer(2)], &[entry(1)], true);
    let full = parse(text.as_bytes()).unwrap();
    let mut expected: Vec<u32> = (0..full.node_count() as u32).map(|n| full.node_id(n)).collect();
    expected.sort_unstable();
    expected.dedup();
    for size in [1, 7, 64, text.len()] {
      let mut parser = Parser::ids_only();
      for chunk in text.as_bytes().chunks(size) {
        parser.push(chunk).unwrap();
      }
      assert_eq!(parser.finish_ids().unwrap(), expected, "chunks of {size} bytes");
    }
  }

  #[test]
  fn ids_only_rejects_what_it_cannot_read() {
    let mut p = Parser::ids_only();
    p.push(br#"{"nodes":[1,2,3],"snapshot":{}}"#).unwrap_err();
    let text = reloads(&[timer(1)], &[], false);
    let mut p = Parser::ids_only();
    p.push(&text.as_bytes()[..text.len() / 2]).unwrap();
    assert!(p.finish_ids().unwrap_err().0.contains("ends early"));
    let p = Parser::new();
    assert!(p.finish_ids().unwrap_err().0.contains("call finish()"));
  }

  #[test]
  fn new_ids_are_those_after_minus_before() {
    assert_eq!(new_ids(&[1, 3, 5, 9], &[1, 2, 5, 7, 9, 11]), vec![2, 7, 11]);
    assert_eq!(new_ids(&[], &[4, 6]), vec![4, 6]);
    assert_eq!(new_ids(&[4, 6], &[]), Vec::<u32>::new());
  }

  fn diff(texts: [&str; 3], chunk: usize) -> Growth {
    let mut d = LeakDiff::new();
    for (stage, text) in texts.iter().enumerate() {
      assert_eq!(d.stage(), stage as u32);
      for part in text.as_bytes().chunks(chunk) {
        d.push(part).unwrap();
      }
      d.end_snapshot().unwrap();
    }
    assert_eq!(d.stage(), 3);
    d.growth(10).unwrap()
  }

  #[test]
  fn the_diff_groups_what_grows_by_chain_biggest_first() {
    // Baseline after reload 1, target after reload 3, final after reload 5: reloads 2 and 3
    // each leaked a timer over a 1 MB buffer and a registry entry; a scratch object allocated
    // in between is gone again by the final snapshot.
    let baseline = reloads(&[timer(1)], &[entry(1)], false);
    let target = reloads(&[timer(1), timer(2), timer(3)], &[entry(1), entry(2), entry(3)], true);
    let last = reloads(
      &[timer(1), timer(2), timer(3), timer(4)],
      &[entry(1), entry(2), entry(3), entry(4), entry(5)],
      false,
    );
    let growth = diff([&baseline, &target, &last], 4096);
    let per_timer = 100 + 50 + 50 + 40 + 80 + (1 << 20);
    assert_eq!(growth.group_count, 2, "{growth:#?}");
    let [timers, registry] = &growth.groups[..] else { panic!("{growth:#?}") };
    assert_eq!(timers.bytes, 2 * per_timer as u64);
    assert_eq!(timers.objects, 12);
    assert_eq!(
      timers.roots, 2,
      "reached from both ends of the list, the two timers are still one group"
    );
    let nodes: Vec<&str> = timers.path.iter().map(|s| s.node.as_str()).collect();
    let edges: Vec<&str> = timers.path.iter().map(|s| s.edge.as_str()).collect();
    assert_eq!(nodes.last(), Some(&"system / JSArrayBufferData"), "the largest object");
    assert_eq!(timers.path[timers.first_new as usize].node, "Timeout");
    assert_eq!(timers.path[timers.first_new as usize - 1].node, "Timeout", "an older timer");
    assert!(nodes.contains(&"(anonymous closure in /app/plugin.js:2:28)"), "{nodes:?}");
    assert_eq!(edges[edges.len() - 5..], ["_onTimeout", "context", "big", "backing_store", ""][..]);
    assert_eq!(registry.bytes, 2 * (200 + 40));
    assert_eq!(registry.roots, 2);
    assert_eq!(registry.path[0].node, "global");
    assert_eq!(registry.path[0].edge, "registry");
    assert_eq!(growth.objects, 12 + 4);
    assert_eq!(growth.bytes, timers.bytes + registry.bytes);
    // Chunking does not change anything.
    assert_eq!(diff([&baseline, &target, &last], 7), growth);
  }

  #[test]
  fn nothing_grows_when_every_new_object_is_gone() {
    let baseline = reloads(&[timer(1)], &[entry(1)], false);
    let target = reloads(&[timer(1)], &[entry(1)], true);
    let last = reloads(&[timer(1)], &[entry(1)], false);
    let growth = diff([&baseline, &target, &last], 1 << 20);
    assert_eq!((growth.objects, growth.bytes, growth.group_count), (0, 0, 0));
    assert!(growth.groups.is_empty());
  }

  #[test]
  fn the_diff_reports_misuse() {
    let mut d = LeakDiff::new();
    assert!(d.growth(1).is_err());
    d.push(b"{\"x\":").unwrap();
    assert!(d.end_snapshot().is_err());
    assert!(d.push(b"1}").is_err(), "no parser after a failed snapshot");
  }
}
