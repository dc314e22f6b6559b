//! Test fixtures shared by the modules' tests: a `Builder` that writes snapshots the way V8
//! does, a small Node process (`World`), the timer-leak world and the reloads of the leak diff;
//! then the tests that span modules: the three-snapshot diff (`diff.rs`) and a speed run on a
//! real file. Each module's own tests sit at the end of its file.

use super::*;
use std::collections::HashMap;

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
pub(super) const V20_NODE_FIELDS: &[&str] =
  &["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"];
pub(super) const EDGE_FIELDS: &[&str] = &["type", "name_or_index", "to_node"];

enum Name {
  Text(String),
  Index(u32),
}

pub(super) struct TestNode {
  kind: &'static str,
  name: String,
  edges: Vec<(&'static str, Name, usize)>,
}

/// Writes snapshots the way V8 does (string table with `<dummy>` first, non-ASCII as `\u`
/// escapes, one node per line), from nodes and edges given by hand.
pub(super) struct Builder {
  node_fields: Vec<&'static str>,
  edge_fields: Vec<&'static str>,
  pub(super) nodes: Vec<TestNode>,
  pub(super) locations: Vec<[u32; 4]>,
  /// V8 ids and self sizes given by hand (else `2 i + 1` and 16).
  ids: HashMap<usize, u32>,
  sizes: HashMap<usize, u32>,
}

impl Builder {
  pub(super) fn new() -> Self {
    Self::with_fields(V20_NODE_FIELDS, EDGE_FIELDS)
  }

  pub(super) fn with_fields(node_fields: &[&'static str], edge_fields: &[&'static str]) -> Self {
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

  pub(super) fn node(&mut self, kind: &'static str, name: &str) -> usize {
    self.nodes.push(TestNode { kind, name: name.to_string(), edges: Vec::new() });
    self.nodes.len() - 1
  }

  pub(super) fn edge(&mut self, from: usize, kind: &'static str, name: &str, to: usize) {
    self.nodes[from].edges.push((kind, Name::Text(name.to_string()), to));
  }

  pub(super) fn element(&mut self, from: usize, index: u32, to: usize) {
    self.nodes[from].edges.push(("element", Name::Index(index), to));
  }

  pub(super) fn location(&mut self, node: usize, script: u32, line: u32, column: u32) {
    self.locations.push([node as u32, script, line, column]);
  }

  pub(super) fn json(&self) -> String {
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
pub(super) struct World {
  pub(super) b: Builder,
  pub(super) gc_roots: usize,
  pub(super) global_handles: usize,
  pub(super) stack_roots: usize,
  pub(super) strong_roots: usize,
  pub(super) global: usize,
  cache: usize,
}

pub(super) const PLUGIN: &str = "/app/plugin.js";

impl World {
  pub(super) fn new() -> Self {
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
  pub(super) fn module(&mut self, file: &str) -> usize {
    let m = self.b.node("object", "Module");
    let id = self.b.node("string", file);
    self.b.edge(m, "property", "id", id);
    self.b.edge(m, "property", "filename", id);
    m
  }

  /// The loaded instance of `file`: `require.cache[file]`.
  pub(super) fn live_module(&mut self, file: &str) -> usize {
    let m = self.module(file);
    self.b.edge(self.cache, "property", file, m);
    m
  }

  /// `from --edge--> Object --edge--> ...` with `hops` plain objects before `to`.
  pub(super) fn chain(&mut self, from: usize, hops: usize, to: usize) {
    let mut at = from;
    for i in 0..hops {
      let next = self.b.node("object", &format!("Hop{i}"));
      self.b.edge(at, "property", &format!("hop{i}"), next);
      at = next;
    }
    self.b.edge(at, "property", "held", to);
  }

  pub(super) fn snapshot(&self) -> HeapSnapshot {
    parse(self.b.json().as_bytes()).expect("the test snapshot parses")
  }
}

pub(super) fn steps(path: &[(&str, &str)]) -> Vec<Step> {
  path.iter().map(|(node, edge)| Step { node: node.to_string(), edge: edge.to_string() }).collect()
}

pub(super) fn explain(s: &HeapSnapshot, ids: &[&str]) -> Vec<Retainer> {
  s.explain_retainers(ids)
}

/// The world of the timer leak: the old plugin is held by its interval's callback.
pub(super) fn timer_world() -> (World, usize, usize) {
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

// ----- the three-snapshot diff -------------------------------------------------------------

/// A process after some reloads: a timer list whose Timeouts (ids `timers`) each hold a
/// closure over a 1 MB buffer, a global registry with one entry per reload (ids `entries`),
/// and, when `transient`, an object that a later collection frees. Ids are given by hand so
/// that the same object has the same id in each snapshot, as in V8.
pub(super) fn reloads(timers: &[u32], entries: &[u32], transient: bool) -> String {
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
pub(super) fn timer(r: u32) -> u32 {
  1001 + 100 * r
}
pub(super) fn entry(r: u32) -> u32 {
  50_001 + 100 * r
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
  assert!(timers.holder_in_target && registry_holder_in_target(&growth), "the older timer and the registry were in the target");
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

fn registry_holder_in_target(growth: &Growth) -> bool {
  growth.groups.iter().all(|g| g.holder_in_target)
}

#[test]
fn a_group_hung_on_an_object_the_target_did_not_have_is_flagged() {
  // The same reloads; then the holders are looked up in a target that has none of them (as when
  // the holder was allocated after the target and the "new" objects only inherited old ids).
  let baseline = reloads(&[timer(1)], &[entry(1)], false);
  let target = reloads(&[timer(1), timer(2), timer(3)], &[entry(1), entry(2), entry(3)], true);
  let last = reloads(&[timer(1), timer(2), timer(3), timer(4)], &[entry(1), entry(2), entry(3), entry(4), entry(5)], false);
  let mut d = LeakDiff::new();
  for text in [&baseline, &target, &last] {
    d.push(text.as_bytes()).unwrap();
    d.end_snapshot().unwrap();
  }
  let growth = d.last().unwrap().growth_since(d.new_objects(), &[u32::MAX], 10);
  assert_eq!(growth.groups.len(), 2);
  assert!(growth.groups.iter().all(|g| !g.holder_in_target), "{growth:#?}");
  let same = d.last().unwrap().growth_since(d.new_objects(), &[], 10);
  assert!(same.groups.iter().all(|g| g.holder_in_target), "without target ids every holder counts as there");
}
