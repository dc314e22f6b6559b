//! Shortest strong retainer paths: one breadth-first search from the root along strong edges,
//! real roots before V8's and Node's bookkeeping ones, that answers every target at once.
//! Apart because the leak diff (`diff.rs`) uses the same search for objects of any kind.

use super::snapshot::HeapSnapshot;

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

pub(super) const UNREACHED: u32 = u32::MAX;
pub(super) const DEFERRED: u32 = u32::MAX - 1;
pub(super) const START: u32 = u32::MAX - 2;

/// Node sets as bits: one per node, cheap next to the per-node `u32`s.
pub(super) struct Bits(Vec<u64>);

impl Bits {
  pub(super) fn new(n: usize) -> Self {
    Bits(vec![0; n.div_ceil(64)])
  }
  pub(super) fn get(&self, i: u32) -> bool {
    self.0[i as usize / 64] & (1 << (i % 64)) != 0
  }
  /// Sets bit `i`; true when it was clear.
  pub(super) fn set(&mut self, i: u32) -> bool {
    let was = self.get(i);
    self.0[i as usize / 64] |= 1 << (i % 64);
    !was
  }
}

/// For every node reached, the edge it was first reached by in a breadth-first search from the
/// root along strong edges: following these back gives a shortest path.
pub struct PathTree {
  pub(super) parent_edge: Vec<u32>,
  /// The nodes reached, in the order the search reached them: a node's holder on its path
  /// always comes before it.
  pub(super) order: Vec<u32>,
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

#[cfg(test)]
mod tests {
  use crate::heapsnapshot::tests::{explain, steps, World, PLUGIN};
  use crate::heapsnapshot::Step;

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
}
