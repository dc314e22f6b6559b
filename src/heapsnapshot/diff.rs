//! What grows from reload to reload, from three snapshots of one process.
//!
//! V8 gives every heap object an id that stays the same in every snapshot the process takes. With
//! snapshots taken after cycles k (baseline), 2k (target) and 3k (final):
//!
//! - the objects whose ids are in the target but not in the baseline were allocated during cycles
//!   k+1..2k;
//! - those of them still in the final snapshot outlived k more reloads: they are what the process
//!   keeps from every reload.
//!
//! Streaming, so that memory stays near one snapshot's size rather than three: the baseline and
//! the target are read by a [`Parser::ids_only`] (4 bytes per node, nothing else kept), the
//! baseline's ids are dropped as soon as the new ids are known, and only the final snapshot is
//! parsed whole.
//!
//! The new objects still alive are grouped by the shape of their shortest strong retainer chain.
//! Each belongs to its *leak root*: the first new object on its chain from a GC root (everything
//! below a leaked Timeout is that Timeout's). Leak roots whose chains have the same shape (array
//! indices ignored, runs of the same kind of object folded: the 3rd and the 9th Timeout of a
//! timer list are the same culprit) form one group; a group's size is the sum of the self sizes
//! of all the new objects under its leak roots.

use super::{HeapSnapshot, Parser, SnapshotError, Step};
use std::collections::HashMap;

/// The ids in `after` that are not in `before` (both sorted, without duplicates).
pub fn new_ids(before: &[u32], after: &[u32]) -> Vec<u32> {
  let mut out = Vec::new();
  let mut i = 0;
  for &id in after {
    while i < before.len() && before[i] < id {
      i += 1;
    }
    if i == before.len() || before[i] != id {
      out.push(id);
    }
  }
  out
}

/// Objects that accumulate, with one chain that shows where they hang.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrowthGroup {
  /// Self sizes of all the new objects still alive in this group, in bytes.
  pub bytes: u64,
  /// How many new objects.
  pub objects: u32,
  /// How many separate structures (leak roots) hold them.
  pub roots: u32,
  /// The shortest strong chain from a GC root to the group's largest object.
  pub path: Vec<Step>,
  /// Index in `path` of the first new object (the leak root): the steps before it are older
  /// than the baseline, the ones from it on were allocated between baseline and target.
  pub first_new: u32,
  /// Whether what holds the leak root (the object just above `first_new` on `path`) was in the
  /// target snapshot. A leak hangs new objects on something that stays; an object that only
  /// looks new (V8 numbers objects by address, and one allocated where a dead one lay can inherit
  /// its id) hangs on something allocated after the target, such as the live generation's table.
  pub holder_in_target: bool,
}

/// The result of [`HeapSnapshot::growth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Growth {
  /// The largest groups first.
  pub groups: Vec<GrowthGroup>,
  /// Every new object still alive and reached by a strong chain, in all groups.
  pub objects: u64,
  pub bytes: u64,
  /// How many groups there were before `limit` cut the list.
  pub group_count: u32,
}

/// A leak root joins the group of another leak root at most this many links above it...
const MAX_JOIN_DEPTH: usize = 6;
/// ...whose chain has at least this many links.
const MIN_JOIN_ITEMS: usize = 3;

struct Accumulator {
  bytes: u64,
  objects: u32,
  roots: u32,
  largest: u32,
  largest_size: u64,
  first_seen: usize,
}

/// Edge names that only say which way a linked list is walked: two chains that differ only in
/// that are one culprit.
fn edge_shape(edge: &str) -> &str {
  if edge.starts_with('[') && edge.ends_with(']') {
    return "[]";
  }
  match edge {
    "_idleNext" | "_idlePrev" => "_idleNext/_idlePrev",
    "next" | "prev" => "next/prev",
    _ => edge,
  }
}

impl HeapSnapshot {
  /// The node's self size in bytes (0 when the snapshot has no `self_size` field).
  pub fn self_size(&self, node: u32) -> u64 {
    self.layout.node_self_size.map_or(0, |field| u64::from(self.node_field(node, field)))
  }

  /// A label that is the same for the same kind of object in every generation: strings are all
  /// `(string)` (their contents differ per reload), everything else as [`describe_node`].
  fn shape_label(&self, node: u32, cache: &mut HashMap<u32, String>) -> String {
    if let Some(label) = cache.get(&node) {
      return label.clone();
    }
    let k = self.node_kinds;
    let label = if self.is(node, k.string)
      || self.is(node, k.cons_string)
      || self.is(node, k.sliced_string)
    {
      "(string)".to_string()
    } else {
      self.describe_node(node)
    };
    cache.insert(node, label.clone());
    label
  }

  /// The chain of a leak root as (holder kind, edge) items, the root last with an empty edge:
  /// runs of the same kind of holder folded into their last (its edge leaves the run), array
  /// indices and list directions ignored.
  fn chain_items(&self, edges: &[u32], root: u32, cache: &mut HashMap<u32, String>) -> Vec<String> {
    let mut items: Vec<(String, String)> = Vec::with_capacity(edges.len() + 1);
    for &edge in edges {
      let holder = self.edge_owner(edge);
      if holder == 0 {
        continue;
      }
      let label = self.shape_label(holder, cache);
      let shape = edge_shape(&self.describe_edge(edge)).to_string();
      items.push((label, shape));
    }
    items.push((self.shape_label(root, cache), String::new()));
    let mut folded = Vec::with_capacity(items.len());
    for (i, (label, edge)) in items.iter().enumerate() {
      if items.get(i + 1).is_some_and(|(next, _)| next == label) {
        continue;
      }
      folded.push(format!("{label}\u{1}{edge}"));
    }
    folded
  }

  /// The group key of the first `n` items, the last one's edge left out: a leak root whose chain
  /// passes through another group's kind of leak root belongs to that group (the closure of an
  /// older timer that V8 gave a new id is still that timer's).
  fn prefix_key(items: &[String], n: usize) -> String {
    let mut key = items[..n - 1].join("\u{2}");
    if n > 1 {
      key.push('\u{2}');
    }
    let last = &items[n - 1];
    key.push_str(&last[..last.find('\u{1}').unwrap_or(last.len())]);
    key
  }

  /// The objects of this (final) snapshot whose V8 ids are in `new` (sorted), grouped by the
  /// shape of their retainer chains, largest group first, at most `limit` groups. New objects
  /// that no strong chain reaches are left out (V8 keeps them only until its next collection).
  pub fn growth(&self, new: &[u32], limit: usize) -> Growth {
    self.growth_since(new, &[], limit)
  }

  /// [`growth`](Self::growth), with the ids of the target snapshot (sorted) to tell whether each
  /// group's holder was there (`holder_in_target`; always true without them).
  pub fn growth_since(&self, new: &[u32], target: &[u32], limit: usize) -> Growth {
    let n = self.node_count() as u32;
    let mut is_new = super::paths::Bits::new(n as usize);
    let mut targets = Vec::new();
    for node in 0..n {
      if new.binary_search(&self.node_id(node)).is_ok() {
        is_new.set(node);
        targets.push(node);
      }
    }
    let tree = self.shortest_paths(&targets);
    let holder_of = |node: u32| -> Option<u32> {
      match tree.parent_edge[node as usize] {
        super::paths::START | super::paths::UNREACHED | super::paths::DEFERRED => None,
        edge => Some(self.edge_owner(edge)),
      }
    };
    // Holders come before what they hold in `order`, so a holder's leak root is known first.
    let mut leak_root: HashMap<u32, u32> = HashMap::with_capacity(targets.len());
    let mut members: Vec<(u32, u32)> = Vec::with_capacity(targets.len());
    for &node in &tree.order {
      if !is_new.get(node) {
        continue;
      }
      let root = match holder_of(node) {
        Some(holder) if is_new.get(holder) => leak_root[&holder],
        _ => node,
      };
      leak_root.insert(node, root);
      members.push((node, root));
    }
    drop(leak_root);

    let mut labels = HashMap::new();
    let mut group_of_root: HashMap<u32, usize> = HashMap::new();
    let mut keys: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Accumulator> = Vec::new();
    let (mut objects, mut bytes) = (0u64, 0u64);
    for &(node, root) in &members {
      let group = match group_of_root.get(&root) {
        Some(&g) => g,
        None => {
          let edges = self.path_edges(&tree, root).unwrap_or_default();
          let items = self.chain_items(&edges, root, &mut labels);
          // Only a group a few links up, with a chain of its own: a new object right under a
          // root (a new context's `global`) must not swallow everything below that root.
          let joined = (items.len().saturating_sub(MAX_JOIN_DEPTH).max(MIN_JOIN_ITEMS)
            ..items.len())
            .find_map(|n| keys.get(&Self::prefix_key(&items, n)).copied());
          let key = Self::prefix_key(&items, items.len());
          let g = *keys.entry(key).or_insert_with(|| {
            joined.unwrap_or_else(|| {
              groups.push(Accumulator {
                bytes: 0,
                objects: 0,
                roots: 0,
                largest: root,
                largest_size: 0,
                first_seen: groups.len(),
              });
              groups.len() - 1
            })
          });
          groups[g].roots += 1;
          group_of_root.insert(root, g);
          g
        }
      };
      let size = self.self_size(node);
      let acc = &mut groups[group];
      acc.bytes += size;
      acc.objects += 1;
      if size > acc.largest_size {
        acc.largest_size = size;
        acc.largest = node;
      }
      objects += 1;
      bytes += size;
    }
    let group_count = groups.len() as u32;
    groups.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.first_seen.cmp(&b.first_seen)));
    groups.truncate(limit);
    let groups = groups
      .into_iter()
      .map(|acc| {
        let edges = self.path_edges(&tree, acc.largest).unwrap_or_default();
        let mut ordinals: Vec<u32> =
          edges.iter().map(|&e| self.edge_owner(e)).filter(|&holder| holder != 0).collect();
        ordinals.push(acc.largest);
        let first_new = ordinals.iter().position(|&node| is_new.get(node)).unwrap_or(0) as u32;
        let holder_in_target = target.is_empty()
          || first_new == 0
          || target.binary_search(&self.node_id(ordinals[first_new as usize - 1])).is_ok();
        GrowthGroup {
          bytes: acc.bytes,
          objects: acc.objects,
          roots: acc.roots,
          path: self.render_path(&edges, acc.largest),
          first_new,
          holder_in_target,
        }
      })
      .collect();
    Growth { groups, objects, bytes, group_count }
  }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
  Baseline,
  Target,
  Final,
  Done,
}

/// The three-snapshot diff fed chunk by chunk: [`push`](LeakDiff::push) the baseline's text,
/// [`end_snapshot`](LeakDiff::end_snapshot), the same for the target and the final snapshot,
/// then ask for [`growth`](LeakDiff::growth).
pub struct LeakDiff {
  stage: Stage,
  parser: Option<Parser>,
  baseline: Vec<u32>,
  target: Vec<u32>,
  new: Vec<u32>,
  last: Option<HeapSnapshot>,
}

impl Default for LeakDiff {
  fn default() -> Self {
    Self::new()
  }
}

impl LeakDiff {
  pub fn new() -> Self {
    LeakDiff {
      stage: Stage::Baseline,
      parser: Some(Parser::ids_only()),
      baseline: Vec::new(),
      target: Vec::new(),
      new: Vec::new(),
      last: None,
    }
  }

  /// Which snapshot the next chunks belong to: 0 baseline, 1 target, 2 final, 3 all read.
  pub fn stage(&self) -> u32 {
    self.stage as u32
  }

  /// The ids the target has that the baseline had not, sorted (known after the target).
  pub fn new_objects(&self) -> &[u32] {
    &self.new
  }

  /// How many objects the target has that the baseline had not (known after the target).
  pub fn new_count(&self) -> usize {
    self.new.len()
  }

  pub fn push(&mut self, chunk: &[u8]) -> Result<(), SnapshotError> {
    match &mut self.parser {
      Some(parser) => parser.push(chunk),
      None => Err(SnapshotError("all three snapshots were read already".into())),
    }
  }

  /// Ends the current snapshot's text and gets ready for the next one.
  pub fn end_snapshot(&mut self) -> Result<(), SnapshotError> {
    let parser = self
      .parser
      .take()
      .ok_or_else(|| SnapshotError("all three snapshots were read already".into()))?;
    match self.stage {
      Stage::Baseline => {
        self.baseline = parser.finish_ids()?;
        self.parser = Some(Parser::ids_only());
        self.stage = Stage::Target;
      }
      Stage::Target => {
        self.target = parser.finish_ids()?;
        self.new = new_ids(&self.baseline, &self.target);
        self.baseline = Vec::new();
        self.parser = Some(Parser::new());
        self.stage = Stage::Final;
      }
      Stage::Final => {
        self.last = Some(parser.finish()?);
        self.stage = Stage::Done;
      }
      Stage::Done => unreachable!("no parser after the last snapshot"),
    }
    Ok(())
  }

  /// The final snapshot, once read: it answers [`HeapSnapshot::explain_retainers`] too, so that
  /// a caller whose final snapshot is taken at the end of its run needs no fourth one.
  pub fn last(&self) -> Option<&HeapSnapshot> {
    self.last.as_ref()
  }

  /// The groups of objects allocated between baseline and target and alive in the final one.
  pub fn growth(&self, limit: usize) -> Result<Growth, SnapshotError> {
    match &self.last {
      Some(last) => Ok(last.growth_since(&self.new, &self.target, limit)),
      None => Err(SnapshotError("growth() before all three snapshots were read".into())),
    }
  }
}
