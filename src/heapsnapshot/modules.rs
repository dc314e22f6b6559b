//! Finding the `Module` objects of the asked-about ids, and telling the live one (the value of
//! `Module._cache[id]`) from older generations. Apart because it is the only part that knows
//! Node's CommonJS loader; the rest reads any V8 heap.

use super::snapshot::HeapSnapshot;
use std::borrow::Cow;
use std::collections::HashMap;

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

/// V8 cuts string contents in snapshots to this many UTF-16 units (`--heap-snapshot-string-limit`).
const SNAPSHOT_STRING_LIMIT: usize = 1024;

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
  pub(super) fn string_property(&self, node: u32, name: &[u8]) -> Option<Cow<'_, [u8]>> {
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

#[cfg(test)]
mod tests {
  use super::*;
  use crate::heapsnapshot::parse;
  use crate::heapsnapshot::tests::{explain, steps, Builder, World, PLUGIN};

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
}
