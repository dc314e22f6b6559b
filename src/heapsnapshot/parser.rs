//! The streaming parser: walks the top-level object of a `.heapsnapshot` chunk by chunk and
//! hands each section to its tokenizer piece (or skips it). Apart from the tokenizer because
//! this is where the document's shape is known: which sections exist, which are required,
//! and the ids-only mode of the leak diff.

use super::error::{fail, fault, printable, Fault, SnapshotError};
use super::header::Header;
use super::json;
use super::snapshot::HeapSnapshot;
use super::tokenizer::{is_ws, NumberArray, RawValue, StrDecoder, StringArray, StringTable};

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

#[cfg(test)]
mod tests {
  use super::*;
  use crate::heapsnapshot::parse;
  use crate::heapsnapshot::tests::{entry, explain, reloads, timer, timer_world, Builder, PLUGIN};

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
}
