//! The live module graph: which module refers to which, kept up to date as Node loads modules,
//! so that an unload finds the holders of a tree without reading every cached module.
//!
//! Nodes are integer ids handed out by the JS side (one per Module object it has seen); no JS
//! value is ever held here. An edge `from -> to` says that `from` may refer to `to`: `to` was
//! appended to `from.children` by a `require()`, or `from` was created with `to` as its parent.
//! Each edge carries a count (how many times it was recorded), so a module that appears twice in
//! a `children` array is one edge with count 2, and its kinds: `CHILD` (`to` is in `from.children`)
//! and/or `PARENT` (`from` names `to` as its parent). Only `CHILD` edges hold a module loaded; a
//! `PARENT` edge is a reference the unload resets (`tree_plan.rs` reads both).
//!
//! The graph is a *superset* index: an edge whose reference was removed since (a cut made by hand,
//! a module deleted from the cache) stays until one of its ends is forgotten. Whoever asks
//! `referrers_of` reads the live objects of the answer to confirm each reference, so a stale edge
//! costs one read and never changes a plan. What must hold is the other direction: every
//! reference made through Node's loader is here (the JS side re-reads everything after a loader
//! gap, see `lib/graph-index.js`).
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hash for `u32` ids (the ids are dense small integers; SipHash's DoS
/// resistance buys nothing here and costs about 3× per lookup).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
  fn finish(&self) -> u64 {
    self.0
  }
  fn write(&mut self, bytes: &[u8]) {
    for &b in bytes {
      self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
  }
  fn write_u32(&mut self, n: u32) {
    self.0 = (u64::from(n) ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
  }
}

pub(crate) type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;
pub(crate) type IdSet = HashSet<u32, BuildHasherDefault<IdHasher>>;

/// Edge kind: `to` is listed in `from.children` (a reference that keeps `to` loaded).
pub const CHILD: u8 = 1;
/// Edge kind: `from` names `to` as its parent (reset by an unload, never holds `to`).
pub const PARENT: u8 = 2;

/// One recorded referrer of a node: who, how many `children` entries, which kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Referrer {
  pub from: u32,
  pub count: u32,
  pub kinds: u8,
}

#[derive(Default, Debug)]
struct Node {
  /// Who refers to this node.
  referrers: Vec<Referrer>,
  /// What this node refers to (each target once, with the kinds), in the order first recorded
  /// (for `children`, the order of the array), so that forgetting it is O(its degree).
  refers_to: Vec<(u32, u8)>,
}

/// See the module documentation.
#[derive(Default, Debug)]
pub struct LiveGraph {
  nodes: IdMap<Node>,
  edges: usize,
}

impl LiveGraph {
  pub fn new() -> Self {
    Self::default()
  }

  /// Records `to[k]` in `from[k].children` for every k (a repeated edge counts up). A module that
  /// lists itself is an edge too: it holds itself, and a report names it among its holders.
  pub fn add_edges(&mut self, from: &[u32], to: &[u32]) -> Result<(), String> {
    self.add_edges_of_kind(from, to, CHILD)
  }

  /// Records that `from[k]` names `to[k]` as its parent (a module named as its own parent is not
  /// recorded: no unload has to reset it).
  pub fn add_parent_edges(&mut self, from: &[u32], to: &[u32]) -> Result<(), String> {
    self.add_edges_of_kind(from, to, PARENT)
  }

  fn add_edges_of_kind(&mut self, from: &[u32], to: &[u32], kind: u8) -> Result<(), String> {
    if from.len() != to.len() {
      return Err(format!("add_edges: {} sources for {} targets", from.len(), to.len()));
    }
    for (&f, &t) in from.iter().zip(to) {
      if f != t || kind == CHILD {
        self.add_edge(f, t, kind);
      }
    }
    Ok(())
  }

  fn add_edge(&mut self, from: u32, to: u32, kind: u8) {
    let counted = u32::from(kind == CHILD);
    let target = self.nodes.entry(to).or_default();
    if let Some(entry) = target.referrers.iter_mut().find(|r| r.from == from) {
      entry.count += counted;
      if entry.kinds & kind == 0 {
        entry.kinds |= kind;
        if let Some(out) = self.nodes.get_mut(&from).and_then(|n| n.refers_to.iter_mut().find(|(t, _)| *t == to)) {
          out.1 |= kind;
        }
      }
      return;
    }
    target.referrers.push(Referrer { from, count: counted, kinds: kind });
    self.nodes.entry(from).or_default().refers_to.push((to, kind));
    self.edges += 1;
  }

  /// Drops the `CHILD` kind of `from[k] -> to[k]`: a unload read `from.children` and found no
  /// `to` (other code cut it). The edge goes when no kind is left.
  pub fn drop_child_edges(&mut self, from: &[u32], to: &[u32]) {
    for (&f, &t) in from.iter().zip(to) {
      let Some(target) = self.nodes.get_mut(&t) else { continue };
      let Some(k) = target.referrers.iter().position(|r| r.from == f) else { continue };
      let kinds = target.referrers[k].kinds & !CHILD;
      if kinds == 0 {
        target.referrers.swap_remove(k);
      } else {
        target.referrers[k] = Referrer { from: f, count: 0, kinds };
      }
      let target_empty = target.referrers.is_empty() && target.refers_to.is_empty();
      if let Some(source) = self.nodes.get_mut(&f) {
        if kinds == 0 {
          source.refers_to.retain(|(x, _)| *x != t);
          self.edges -= 1;
        } else if let Some(out) = source.refers_to.iter_mut().find(|(x, _)| *x == t) {
          out.1 = kinds;
        }
        if source.referrers.is_empty() && source.refers_to.is_empty() {
          self.nodes.remove(&f);
        }
      }
      if target_empty {
        self.nodes.remove(&t);
      }
    }
  }

  /// The importers of `roots`, transitively: every node that lists one of them in `children`, and
  /// every node that lists one of those, breadth first (each once, the roots first). Returned as
  /// the nodes met and, per node, all its referrers of any kind (CSR: `referrers[offsets[i] ..
  /// offsets[i + 1]]` are those of `nodes[i]`), so that the caller, which decides on the live
  /// objects which importers count, asks once instead of once per module it climbs through.
  pub fn importers(&self, roots: &[u32]) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let mut seen = IdSet::default();
    let mut nodes: Vec<u32> = Vec::new();
    for &r in roots {
      if seen.insert(r) {
        nodes.push(r);
      }
    }
    let mut offsets = vec![0u32];
    let mut referrers = Vec::new();
    let mut next = 0;
    while next < nodes.len() {
      let id = nodes[next];
      next += 1;
      for r in self.referrers(id) {
        referrers.push(r.from);
        if r.kinds & CHILD != 0 && seen.insert(r.from) {
          nodes.push(r.from);
        }
      }
      offsets.push(referrers.len() as u32);
    }
    (nodes, offsets, referrers)
  }

  /// The `CHILD` targets of `id`, in the order first recorded.
  pub fn children(&self, id: u32) -> impl Iterator<Item = u32> + '_ {
    self.targets_of_kind(id, CHILD)
  }

  /// The recorded parents of `id` (normally one).
  pub fn parents(&self, id: u32) -> impl Iterator<Item = u32> + '_ {
    self.targets_of_kind(id, PARENT)
  }

  fn targets_of_kind(&self, id: u32, kind: u8) -> impl Iterator<Item = u32> + '_ {
    let list = self.nodes.get(&id).map_or(&[][..], |n| n.refers_to.as_slice());
    list.iter().filter(move |(_, k)| k & kind != 0).map(|&(t, _)| t)
  }

  /// Who refers to `id`, with the kinds of each reference.
  pub fn referrers(&self, id: u32) -> &[Referrer] {
    self.nodes.get(&id).map_or(&[], |n| n.referrers.as_slice())
  }

  /// Removes `ids` and every edge that touches them, in one pass over the nodes they touch: a
  /// module required by thousands is rewritten once per call, not once per forgotten importer.
  pub fn forget(&mut self, ids: &[u32]) {
    let gone: IdSet = ids.iter().copied().collect();
    let mut touched = IdSet::default();
    for id in &gone {
      if let Some(node) = self.nodes.remove(id) {
        self.edges -= node.refers_to.len();
        touched.extend(node.refers_to.iter().map(|&(t, _)| t).filter(|t| !gone.contains(t)));
        for r in &node.referrers {
          if !gone.contains(&r.from) {
            touched.insert(r.from);
            // Edges from a surviving referrer into `id` are counted here; those from a node
            // that is gone too were counted with that node's `refers_to`.
            self.edges -= 1;
          }
        }
      }
    }
    for id in touched {
      if let Some(node) = self.nodes.get_mut(&id) {
        node.referrers.retain(|r| !gone.contains(&r.from));
        node.refers_to.retain(|(t, _)| !gone.contains(t));
        if node.referrers.is_empty() && node.refers_to.is_empty() {
          self.nodes.remove(&id);
        }
      }
    }
  }

  /// Everything that may refer to one of `ids`, other than `ids` themselves: each id once, in the
  /// order met.
  pub fn referrers_of(&self, ids: &[u32]) -> Vec<u32> {
    let asked: IdSet = ids.iter().copied().collect();
    let mut seen = IdSet::default();
    let mut out = Vec::new();
    for id in ids {
      if let Some(node) = self.nodes.get(id) {
        for r in &node.referrers {
          if !asked.contains(&r.from) && seen.insert(r.from) {
            out.push(r.from);
          }
        }
      }
    }
    out
  }

  /// The referrers of `id` (each once), as many as fit written into `out`; returns how many
  /// there are.
  pub fn referrers_into(&self, id: u32, out: &mut [u32]) -> usize {
    let Some(node) = self.nodes.get(&id) else { return 0 };
    for (slot, r) in out.iter_mut().zip(&node.referrers) {
      *slot = r.from;
    }
    node.referrers.len()
  }

  /// What `id` refers to (each target once, any kind): the recorded `children` and parent of a
  /// module whose own fields cannot be read (a `children` accessor is never called).
  pub fn refers_to(&self, id: u32) -> Vec<u32> {
    self.nodes.get(&id).map_or_else(Vec::new, |n| n.refers_to.iter().map(|&(t, _)| t).collect())
  }

  /// Forgets everything (before a full re-read of the live graph).
  pub fn clear(&mut self) {
    self.nodes = IdMap::default();
    self.edges = 0;
  }

  pub fn node_count(&self) -> usize {
    self.nodes.len()
  }

  pub fn edge_count(&self) -> usize {
    self.edges
  }

  /// Bytes this graph holds on the heap (table and edge vectors, by capacity).
  pub fn heap_bytes(&self) -> usize {
    let table = self.nodes.capacity() * (std::mem::size_of::<(u32, Node)>() + 1);
    let lists: usize = self
      .nodes
      .values()
      .map(|n| n.referrers.capacity() * std::mem::size_of::<Referrer>() + n.refers_to.capacity() * 8)
      .sum();
    table + lists
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
  }

  #[test]
  fn referrers_are_found_without_the_asked_ids() {
    let mut g = LiveGraph::new();
    // 1 -> 2 -> 3, 4 -> 3, 2 -> 4
    g.add_edges(&[1, 2, 4, 2], &[2, 3, 3, 4]).unwrap();
    assert_eq!(sorted(g.referrers_of(&[3])), vec![2, 4]);
    assert_eq!(sorted(g.referrers_of(&[2, 3])), vec![1, 4]);
    assert_eq!(g.referrers_of(&[1]), Vec::<u32>::new());
    assert_eq!(g.edge_count(), 4);
  }

  #[test]
  fn refers_to_lists_each_target_once() {
    let mut g = LiveGraph::new();
    g.add_edges(&[1, 1, 1, 2], &[2, 3, 2, 3]).unwrap();
    assert_eq!(g.refers_to(1), vec![2, 3]);
    assert_eq!(g.refers_to(9), Vec::<u32>::new());
    g.forget(&[3]);
    assert_eq!(g.refers_to(1), vec![2]);
  }

  #[test]
  fn referrers_into_writes_what_fits_and_says_how_many() {
    let mut g = LiveGraph::new();
    g.add_edges(&[1, 2, 4, 2], &[3, 3, 3, 4]).unwrap();
    let mut out = [0u32; 2];
    assert_eq!(g.referrers_into(3, &mut out), 3);
    assert_eq!(out, [1, 2]);
    let mut big = [0u32; 8];
    assert_eq!(g.referrers_into(3, &mut big), 3);
    assert_eq!(sorted(big[..3].to_vec()), vec![1, 2, 4]);
    assert_eq!(g.referrers_into(1, &mut big), 0);
    assert_eq!(g.referrers_into(99, &mut big), 0);
  }

  #[test]
  fn repeated_edges_count_up_and_stay_one_edge() {
    let mut g = LiveGraph::new();
    g.add_edges(&[1, 1, 1], &[2, 2, 2]).unwrap();
    assert_eq!(g.edge_count(), 1);
    assert_eq!(g.nodes[&2].referrers, vec![Referrer { from: 1, count: 3, kinds: CHILD }]);
    assert_eq!(g.nodes[&1].refers_to, vec![(2, CHILD)]);
  }

  #[test]
  fn self_edges_and_mismatched_lengths() {
    let mut g = LiveGraph::new();
    g.add_parent_edges(&[5], &[5]).unwrap();
    assert_eq!(g.node_count(), 0);
    // A module that lists itself holds itself.
    g.add_edges(&[5], &[5]).unwrap();
    assert_eq!(g.children(5).collect::<Vec<_>>(), vec![5]);
    g.forget(&[5]);
    assert_eq!((g.node_count(), g.edge_count()), (0, 0));
    assert!(g.add_edges(&[1, 2], &[3]).unwrap_err().contains("2 sources for 1 targets"));
  }

  #[test]
  fn forget_removes_every_edge_touching_the_ids() {
    let mut g = LiveGraph::new();
    // host 1 requires plugin 2, plugin requires 3 (private) and 4 (shared with 5).
    g.add_edges(&[1, 2, 2, 5], &[2, 3, 4, 4]).unwrap();
    g.forget(&[2, 3]);
    assert_eq!(g.referrers_of(&[4]), vec![5]);
    assert_eq!(g.referrers_of(&[2]), Vec::<u32>::new());
    assert_eq!(g.edge_count(), 1);
    // The host's list no longer names the plugin: reloading it a thousand times does not grow it.
    assert!(!g.nodes.contains_key(&1));
    assert_eq!(g.node_count(), 2);
  }

  #[test]
  fn forgetting_both_ends_of_an_edge_counts_it_once() {
    let mut g = LiveGraph::new();
    g.add_edges(&[1, 2, 3], &[2, 3, 1]).unwrap();
    g.forget(&[1, 2]);
    assert_eq!(g.edge_count(), 0);
    assert_eq!(g.node_count(), 0);
  }

  #[test]
  fn reload_cycles_do_not_grow_the_graph() {
    let mut g = LiveGraph::new();
    let mut next = 10;
    for _ in 0..1000 {
      // host 1 and shared 2 stay; each generation is a plugin and a private helper.
      let (plugin, helper) = (next, next + 1);
      next += 2;
      g.add_edges(&[1, plugin, plugin], &[plugin, helper, 2]).unwrap();
      g.forget(&[plugin, helper]);
    }
    assert_eq!(g.node_count(), 0);
    assert_eq!(g.edge_count(), 0);
    assert!(g.heap_bytes() < 4096, "{} bytes", g.heap_bytes());
  }

  #[test]
  fn parent_edges_are_a_kind_of_their_own() {
    let mut g = LiveGraph::new();
    // 1 requires 2 (2's parent is 1); 3 lists 2 too.
    g.add_edges(&[1, 3], &[2, 2]).unwrap();
    g.add_parent_edges(&[2], &[1]).unwrap();
    assert_eq!(g.children(1).collect::<Vec<_>>(), vec![2]);
    assert_eq!(g.children(2).count(), 0);
    assert_eq!(g.parents(2).collect::<Vec<_>>(), vec![1]);
    // Both kinds on one edge: one edge, both bits; the parent kind does not count entries.
    g.add_parent_edges(&[3], &[2]).unwrap();
    assert_eq!(g.referrers(2)[1], Referrer { from: 3, count: 1, kinds: CHILD | PARENT });
    assert_eq!(g.edge_count(), 3);
    // referrers_of answers every kind (the JS side reads both fields).
    assert_eq!(sorted(g.referrers_of(&[1])), vec![2]);
  }

  #[test]
  fn dropping_a_child_edge_keeps_its_parent_kind() {
    let mut g = LiveGraph::new();
    g.add_edges(&[1, 1], &[2, 3]).unwrap();
    g.add_parent_edges(&[1], &[2]).unwrap();
    g.drop_child_edges(&[1, 1, 7], &[2, 3, 8]);
    assert_eq!(g.children(1).count(), 0);
    assert_eq!(g.parents(1).collect::<Vec<_>>(), vec![2]);
    assert_eq!(g.referrers(3), &[]);
    assert_eq!(g.edge_count(), 1);
    assert_eq!(g.node_count(), 2);
  }

  #[test]
  fn importers_climb_children_edges_and_list_every_referrer() {
    let mut g = LiveGraph::new();
    // leaf 1 <- barrel 2 <- entry 3 <- main 4; 5 names 1 as parent only; 6 lists 2.
    g.add_edges(&[2, 3, 4, 6], &[1, 2, 3, 2]).unwrap();
    g.add_parent_edges(&[5], &[1]).unwrap();
    let (nodes, offsets, referrers) = g.importers(&[1]);
    assert_eq!(nodes, vec![1, 2, 3, 6, 4], "5 names 1 as its parent only: listed, not climbed");
    assert_eq!(offsets, vec![0, 2, 4, 5, 5, 5]);
    assert_eq!(referrers, vec![2, 5, 3, 6, 4]);
  }

  #[test]
  fn clear_empties() {
    let mut g = LiveGraph::new();
    g.add_edges(&[1], &[2]).unwrap();
    g.clear();
    assert_eq!((g.node_count(), g.edge_count()), (0, 0));
  }
}
