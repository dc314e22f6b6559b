//! JSON pieces that survive chunk boundaries: a string decoder, the number arrays, the
//! string table and a skipper for any other value. Each is fed slices and keeps its state
//! between them, so a value may be cut anywhere. Apart from the parser because they know JSON,
//! not heap snapshots.

use super::error::{fault, printable, Fault, Feed};

/// The `snapshot` header is a few kilobytes; anything this large is not a V8 snapshot.
const MAX_HEADER_BYTES: usize = 16 << 20;

pub(super) fn is_ws(b: u8) -> bool {
  matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

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
pub(super) struct StrDecoder {
  escape: Escape,
  unit: u32,
  digits: u8,
  high_surrogate: Option<u32>,
}

impl StrDecoder {
  /// Appends decoded bytes to `out`. Returns how many bytes were consumed, closing quote
  /// included, once the string ends; `None` when `bytes` ran out first.
  pub(super) fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Feed {
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
pub(super) struct NumberArray {
  state: NumState,
  value: u64,
}

impl NumberArray {
  pub(super) fn new() -> Self {
    NumberArray { state: NumState::Open, value: 0 }
  }

  pub(super) fn feed(&mut self, bytes: &[u8], out: &mut Vec<u32>) -> Feed {
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
  pub(super) bytes: Vec<u8>,
  pub(super) ends: Vec<usize>,
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
  pub(super) fn indices_of(&self, text: &str) -> Vec<u32> {
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
pub(super) struct StringArray {
  state: StrArrState,
  decoder: StrDecoder,
}

impl StringArray {
  pub(super) fn new() -> Self {
    StringArray { state: StrArrState::Open, decoder: StrDecoder::default() }
  }

  pub(super) fn feed(&mut self, bytes: &[u8], table: &mut StringTable) -> Feed {
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
pub(super) struct RawValue {
  pub(super) keep: Option<Vec<u8>>,
  depth: u32,
  started: bool,
  in_string: bool,
  escaped: bool,
  scalar: bool,
}

impl RawValue {
  pub(super) fn new(keep: bool) -> Self {
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
  pub(super) fn feed(&mut self, bytes: &[u8]) -> Feed {
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

#[cfg(test)]
mod tests {
  use super::*;

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
}
