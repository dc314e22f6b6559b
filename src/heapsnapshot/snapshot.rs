//! The parsed snapshot: [`HeapSnapshot`] checks the arrays the parser filled, indexes each
//! node's edges, and gives typed access to nodes, edges and strings. Apart from the parser
//! (which only fills arrays) and from the searches built on it (module instances, paths,
//! wording), which use only these accessors.

use super::error::{fail, SnapshotError};
use super::header::{Header, Layout};
use super::tokenizer::StringTable;

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
pub(super) struct NodeKinds {
  pub(super) object: Option<u32>,
  pub(super) closure: Option<u32>,
  pub(super) synthetic: Option<u32>,
  pub(super) string: Option<u32>,
  pub(super) cons_string: Option<u32>,
  pub(super) sliced_string: Option<u32>,
  pub(super) array: Option<u32>,
  pub(super) regexp: Option<u32>,
}

/// Indices of the edge types we tell apart.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct EdgeKinds {
  pub(super) element: Option<u32>,
  pub(super) hidden: Option<u32>,
  pub(super) internal: Option<u32>,
  pub(super) property: Option<u32>,
  pub(super) weak: Option<u32>,
}

fn kind(names: &[String], name: &str) -> Option<u32> {
  names.iter().position(|n| n == name).map(|i| i as u32)
}

/// A parsed, validated heap snapshot: flat arrays as V8 wrote them, plus where each node's
/// edges start. Nodes are named by ordinal (`0..node_count()`), edges by ordinal too.
pub struct HeapSnapshot {
  pub(super) layout: Layout,
  node_types: Vec<String>,
  edge_types: Vec<String>,
  pub(super) node_kinds: NodeKinds,
  pub(super) edge_kinds: EdgeKinds,
  pub(super) nodes: Vec<u32>,
  pub(super) edges: Vec<u32>,
  pub(super) locations: Vec<u32>,
  pub(super) strings: StringTable,
  /// `first_edge[n]..first_edge[n + 1]` are node `n`'s edge ordinals.
  first_edge: Vec<u32>,
  /// `(node offset, location record)` sorted, built the first time a closure is located: one
  /// linear scan of `locations` per closure is too slow when hundreds of chains are described.
  pub(super) location_index: std::sync::OnceLock<Vec<(u32, u32)>>,
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
  pub(super) fn new(
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

  pub(super) fn node_field(&self, node: u32, field: usize) -> u32 {
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

  pub(super) fn is(&self, node: u32, kind: Option<u32>) -> bool {
    kind == Some(self.node_type(node))
  }

  pub(super) fn edges_of(&self, node: u32) -> std::ops::Range<u32> {
    self.first_edge[node as usize]..self.first_edge[node as usize + 1]
  }

  pub(super) fn edge_field(&self, edge: u32, field: usize) -> u32 {
    self.edges[edge as usize * self.layout.edge_stride + field]
  }

  pub(super) fn edge_type(&self, edge: u32) -> u32 {
    self.edge_field(edge, self.layout.edge_type)
  }

  /// The node `edge` points to (an ordinal: `resolve_edges` converted V8's offsets).
  pub(super) fn edge_target(&self, edge: u32) -> u32 {
    self.edge_field(edge, self.layout.edge_to)
  }

  /// `element` and `hidden` edges carry an index; every other type names a string.
  fn edge_name_is_string(&self, edge_type: u32) -> bool {
    Some(edge_type) != self.edge_kinds.element && Some(edge_type) != self.edge_kinds.hidden
  }

  /// The edge's name, when it is a string (property names, context variables, internal fields).
  pub(super) fn edge_name(&self, edge: u32) -> Option<&[u8]> {
    let name = self.edge_field(edge, self.layout.edge_name);
    self.edge_name_is_string(self.edge_type(edge)).then(|| self.strings.get(name as usize))
  }

  /// The node whose edge list holds `edge`.
  pub(super) fn edge_owner(&self, edge: u32) -> u32 {
    (self.first_edge.partition_point(|&first| first <= edge) - 1) as u32
  }

  /// The target of `node`'s first edge of type `kind` named `name`.
  pub(super) fn child(&self, node: u32, kind: Option<u32>, name: &[u8]) -> Option<u32> {
    self
      .edges_of(node)
      .find(|&e| Some(self.edge_type(e)) == kind && self.edge_name(e) == Some(name))
      .map(|e| self.edge_target(e))
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::heapsnapshot::parse;
  use crate::heapsnapshot::tests::{explain, steps, Builder, V20_NODE_FIELDS};
  use crate::heapsnapshot::Retainer;

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
}
