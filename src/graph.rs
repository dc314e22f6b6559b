//! The module graph and the unload plan, in plain Rust (no N-API types).
//!
//! JavaScript flattens the live `require.cache` into a CSR graph: node `i` is one Module object
//! (or a requirer outside the cache), and `targets[offsets[i]..offsets[i + 1]]` are the nodes
//! in its `children` array. Everything here works on indices; nothing here knows what a
//! Module is. Every function is linear in nodes + edges and iterative (no recursion), so a
//! 100k-module graph or a long `require` chain cannot overflow the stack.

/// Node flag: a live module that keeps its children loaded when it is not itself unloaded
/// (cached modules, and requirers outside the cache such as `createRequire` proxies).
pub const HOLDER: u8 = 1;
/// Node flag: a module that is never unloaded and never walked (a `.node` addon, a module the
/// user keeps, one still loading, the main module, a declined module). Its dependencies stay
/// with it.
pub const BOUNDARY: u8 = 2;
/// Node flag (invalidate only): the module accepted updates of its dependencies, so upward
/// propagation stops at it.
pub const ACCEPTS_DEPS: u8 = 4;
/// Node flag (invalidate only): the module accepts its own updates: it is unloaded and
/// propagation stops there.
pub const SELF_ACCEPTS: u8 = 8;

/// Node flag (unload only): a module outside the graph's tree that is known to stay and keeps
/// what it lists, without being a live holder the report names (a module of the closure that
/// other code deleted from the cache, still listed by a module that stays: the live graph index
/// hands over only part of the closure, and marks the rest that stays this way).
pub const KEEPS: u8 = 32;

/// A borrowed CSR graph: `targets[offsets[i]..offsets[i+1]]` are the children of node `i`.
#[derive(Clone, Copy)]
pub struct Graph<'a> {
  offsets: &'a [i32],
  targets: &'a [i32],
}

/// Why a graph handed over from JavaScript cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub struct GraphError(pub String);

impl std::fmt::Display for GraphError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(&self.0)
  }
}

impl<'a> Graph<'a> {
  /// Checks the CSR invariants once, so the algorithms below can index without checks failing.
  pub fn new(offsets: &'a [i32], targets: &'a [i32]) -> Result<Self, GraphError> {
    if offsets.is_empty() {
      return Err(GraphError("offsets must have n + 1 entries".into()));
    }
    let n = offsets.len() - 1;
    if offsets[0] != 0 || offsets[n] as usize != targets.len() {
      return Err(GraphError("offsets must start at 0 and end at targets.length".into()));
    }
    if offsets.windows(2).any(|w| w[1] < w[0]) {
      return Err(GraphError("offsets must not decrease".into()));
    }
    if targets.iter().any(|&t| t < 0 || t as usize >= n) {
      return Err(GraphError("every target must be a node index".into()));
    }
    Ok(Graph { offsets, targets })
  }

  pub fn len(&self) -> usize {
    self.offsets.len() - 1
  }

  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }

  pub fn children(&self, node: usize) -> impl Iterator<Item = usize> + 'a {
    let (lo, hi) = (self.offsets[node] as usize, self.offsets[node + 1] as usize);
    self.targets[lo..hi].iter().map(|&t| t as usize)
  }

  /// The reverse graph (importers of each node), as CSR.
  pub fn reversed(&self) -> (Vec<i32>, Vec<i32>) {
    let n = self.len();
    let mut counts = vec![0i32; n + 1];
    for &t in self.targets {
      counts[t as usize + 1] += 1;
    }
    for i in 0..n {
      counts[i + 1] += counts[i];
    }
    let offsets = counts.clone();
    let mut fill = counts;
    let mut targets = vec![0i32; self.targets.len()];
    for from in 0..n {
      for to in self.children(from) {
        targets[fill[to] as usize] = from as i32;
        fill[to] += 1;
      }
    }
    (offsets, targets)
  }
}

/// CSR arrays from an edge list (`from[k] -> to[k]`), edges of a node kept in list order. The
/// JS shim records edges while it walks, in whatever order it meets the nodes; a counting sort
/// here is cheaper than a second walk of the live objects there.
pub fn csr_from_edges(n: usize, from: &[i32], to: &[i32]) -> Result<(Vec<i32>, Vec<i32>), GraphError> {
  if from.len() != to.len() {
    return Err(GraphError("from and to must have the same length".into()));
  }
  if from.iter().chain(to).any(|&i| i < 0 || i as usize >= n) {
    return Err(GraphError("every edge end must be a node index".into()));
  }
  let mut offsets = vec![0i32; n + 1];
  for &f in from {
    offsets[f as usize + 1] += 1;
  }
  for i in 0..n {
    offsets[i + 1] += offsets[i];
  }
  let mut fill: Vec<i32> = offsets[..n].to_vec();
  let mut targets = vec![0i32; to.len()];
  for (&f, &t) in from.iter().zip(to) {
    targets[fill[f as usize] as usize] = t;
    fill[f as usize] += 1;
  }
  Ok((offsets, targets))
}

/// Whether shared dependencies stay loaded (`'keep'`, the default) or go too (`'remove'`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shared {
  Keep,
  Remove,
}

/// What to change, computed before anything is changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
  /// Nodes to unload, importers before the modules they import (the order dispose handlers run).
  pub removed: Vec<u32>,
  /// Tree nodes kept because a live module outside the unloaded set requires them directly,
  /// with those holders: `kept[i]` is held by `holders[holder_offsets[i]..holder_offsets[i+1]]`.
  pub kept: Vec<u32>,
  pub holder_offsets: Vec<u32>,
  pub holders: Vec<u32>,
  /// Boundary nodes reached from the roots (reported as skipped; not walked).
  pub skipped: Vec<u32>,
  /// Nodes that stay and have at least one child that is removed: their `children` get filtered.
  pub cut_children_of: Vec<u32>,
  /// Nodes that stay and whose recorded parent is removed: their `parent` gets reset.
  pub reset_parent_of: Vec<u32>,
}

/// Node sets as byte maps: cheaper than hashing for the dense indices we get.
pub(crate) struct Marks(Vec<u8>);

impl Marks {
  pub(crate) fn new(n: usize) -> Self {
    Marks(vec![0; n])
  }
  pub(crate) fn get(&self, i: usize) -> bool {
    self.0[i] != 0
  }
  /// Marks `i`; returns true when it was not marked before.
  pub(crate) fn set(&mut self, i: usize) -> bool {
    let was = self.0[i];
    self.0[i] = 1;
    was == 0
  }
}

fn check_nodes(g: &Graph, nodes: &[u32], what: &str) -> Result<(), GraphError> {
  match nodes.iter().find(|&&r| r as usize >= g.len()) {
    Some(bad) => Err(GraphError(format!("{what} {bad} is not a node index"))),
    None => Ok(()),
  }
}

/// Everything reachable from `roots` along `children`, not entering boundary nodes (roots are
/// always members). Returns the members in discovery order and the boundary nodes met.
pub fn forward_closure(
  g: &Graph,
  flags: &[u8],
  roots: &[u32],
) -> Result<(Vec<u32>, Vec<u32>), GraphError> {
  check_nodes(g, roots, "root")?;
  if flags.len() != g.len() {
    return Err(GraphError("flags must have one entry per node".into()));
  }
  let mut seen = Marks::new(g.len());
  let mut members = Vec::new();
  let mut boundaries = Vec::new();
  for &r in roots {
    if seen.set(r as usize) {
      members.push(r);
    }
  }
  let mut next = 0;
  while next < members.len() {
    let node = members[next] as usize;
    next += 1;
    for child in g.children(node) {
      if !seen.set(child) {
        continue;
      }
      if flags[child] & BOUNDARY != 0 {
        boundaries.push(child as u32);
      } else {
        members.push(child as u32);
      }
    }
  }
  Ok((members, boundaries))
}

/// The unload plan for `roots` and their `children` trees, with reference counting over the
/// whole graph: a tree module that a live holder outside the unloaded set requires stays, and
/// so does everything it requires. Roots are always unloaded (the caller asked for them).
/// `parent[i]` is node `i`'s recorded first requirer, or -1.
pub fn plan_unload(
  g: &Graph,
  flags: &[u8],
  parent: &[i32],
  roots: &[u32],
  shared: Shared,
) -> Result<Plan, GraphError> {
  if parent.len() != g.len() {
    return Err(GraphError("parent must have one entry per node".into()));
  }
  let n = g.len();
  let (members, boundaries) = forward_closure(g, flags, roots)?;
  let mut in_tree = Marks::new(n);
  for &m in &members {
    in_tree.set(m as usize);
  }
  let mut is_root = Marks::new(n);
  for &r in roots {
    is_root.set(r as usize);
  }

  // Seeds of "kept": tree modules required directly by a live holder outside the tree. With
  // `Shared::Remove` only the boundaries met in the tree hold (they stay, whatever `shared` says).
  let mut kept = Marks::new(n);
  let mut kept_order: Vec<u32> = Vec::new();
  let add_seeds_from = |holder: usize, kept: &mut Marks, kept_order: &mut Vec<u32>| {
    for child in g.children(holder) {
      if in_tree.get(child) && !is_root.get(child) && kept.set(child) {
        kept_order.push(child as u32);
      }
    }
  };
  match shared {
    Shared::Keep => {
      for holder in 0..n {
        if !in_tree.get(holder) && flags[holder] & (HOLDER | KEEPS) != 0 {
          add_seeds_from(holder, &mut kept, &mut kept_order);
        }
      }
    }
    Shared::Remove => {
      for &b in &boundaries {
        add_seeds_from(b as usize, &mut kept, &mut kept_order);
      }
    }
  }
  // A kept module keeps its own dependencies (inside the tree, never the roots).
  let mut next = 0;
  while next < kept_order.len() {
    let node = kept_order[next] as usize;
    next += 1;
    for child in g.children(node) {
      if in_tree.get(child) && !is_root.get(child) && kept.set(child) {
        kept_order.push(child as u32);
      }
    }
  }

  let mut removed_mark = Marks::new(n);
  for &m in &members {
    if !kept.get(m as usize) {
      removed_mark.set(m as usize);
    }
  }
  let removed = importers_first(g, roots, &removed_mark);

  // Skipped modules are the boundaries of what is unloaded: one that only a kept module
  // requires stays with that module and is not the unload's business (a plugin that keeps a
  // shared library which loads a `.node` addon must not report the addon).
  let mut below_removed = Marks::new(n);
  for &m in &members {
    if removed_mark.get(m as usize) {
      for c in g.children(m as usize) {
        below_removed.set(c);
      }
    }
  }
  let mut met_boundary = Marks::new(n);
  for &b in &boundaries {
    met_boundary.set(b as usize);
  }
  let skipped = boundaries.into_iter().filter(|&b| below_removed.get(b as usize)).collect();
  let mut plan = Plan { removed, skipped, ..Plan::default() };

  // `kept` is the frontier of what is removed: each tree module that a removed module requires
  // directly and that stays, in removal order, with every node outside the removed set that
  // holds it directly (live holders; with `Shared::Remove`, the boundaries met in the tree and
  // the kept tree modules).
  // What a kept module requires stays with it and is not listed, so the list does not depend on
  // how far the kept part of the graph reaches (the live graph index never walks it).
  let mut frontier = Marks::new(n);
  let mut frontier_order: Vec<u32> = Vec::new();
  for &r in &plan.removed {
    for c in g.children(r as usize) {
      if in_tree.get(c) && !removed_mark.get(c) && frontier.set(c) {
        frontier_order.push(c as u32);
      }
    }
  }
  let counts = |h: usize| match shared {
    Shared::Keep => flags[h] & HOLDER != 0,
    Shared::Remove => met_boundary.get(h) || in_tree.get(h),
  };
  let mut direct: Vec<(u32, u32)> = Vec::new(); // (kept node, holder)
  if !frontier_order.is_empty() {
    for h in 0..n {
      if removed_mark.get(h) || !counts(h) {
        continue;
      }
      for c in g.children(h) {
        if frontier.get(c) {
          direct.push((c as u32, h as u32));
        }
      }
    }
  }
  direct.sort_unstable();
  direct.dedup();
  plan.holder_offsets.push(0);
  for &node in &frontier_order {
    let start = direct.partition_point(|&(k, _)| k < node);
    let end = direct.partition_point(|&(k, _)| k <= node);
    plan.kept.push(node);
    plan.holders.extend(direct[start..end].iter().map(|&(_, h)| h));
    plan.holder_offsets.push(plan.holders.len() as u32);
  }

  (plan.cut_children_of, plan.reset_parent_of) = cut_lists(g, parent, &removed_mark);
  Ok(plan)
}

/// The nodes that stay but refer to a removed one: those with a removed child (their `children`
/// get filtered) and those whose recorded parent is removed (their `parent` gets reset).
pub(crate) fn cut_lists(g: &Graph, parent: &[i32], removed: &Marks) -> (Vec<u32>, Vec<u32>) {
  let n = g.len();
  let mut cut_children_of = Vec::new();
  let mut reset_parent_of = Vec::new();
  for node in 0..n {
    if removed.get(node) {
      continue;
    }
    if g.children(node).any(|c| removed.get(c)) {
      cut_children_of.push(node as u32);
    }
    let p = parent[node];
    if p >= 0 && (p as usize) < n && removed.get(p as usize) {
      reset_parent_of.push(node as u32);
    }
  }
  (cut_children_of, reset_parent_of)
}

/// The marked nodes reachable from `roots` through marked nodes, ordered so that a module comes
/// before the modules it requires (reverse post-order of a depth-first walk; inside a cycle the
/// order follows discovery). Marked nodes not reachable that way are appended at the end.
pub(crate) fn importers_first(g: &Graph, roots: &[u32], marked: &Marks) -> Vec<u32> {
  let n = g.len();
  let mut visited = Marks::new(n);
  let mut post = Vec::new();
  // Stack of (node, next child offset) frames: an explicit stack instead of recursion.
  let mut stack: Vec<(usize, usize)> = Vec::new();
  let mut start_from = |root: usize, visited: &mut Marks, post: &mut Vec<u32>| {
    if !marked.get(root) || !visited.set(root) {
      return;
    }
    stack.push((root, g.offsets[root] as usize));
    while let Some(&mut (node, ref mut pos)) = stack.last_mut() {
      let end = g.offsets[node + 1] as usize;
      if *pos < end {
        let child = g.targets[*pos] as usize;
        *pos += 1;
        if marked.get(child) && visited.set(child) {
          stack.push((child, g.offsets[child] as usize));
        }
      } else {
        post.push(node as u32);
        stack.pop();
      }
    }
  };
  for &r in roots {
    start_from(r as usize, &mut visited, &mut post);
  }
  for node in 0..n {
    start_from(node, &mut visited, &mut post);
  }
  post.reverse();
  post
}

#[cfg(test)]
pub(crate) mod tests {
  use super::*;

  /// Builds CSR arrays from an edge list.
  pub fn csr(n: usize, edges: &[(usize, usize)]) -> (Vec<i32>, Vec<i32>) {
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in edges {
      adj[a].push(b as i32);
    }
    let mut offsets = vec![0];
    let mut targets = Vec::new();
    for list in adj {
      targets.extend(list);
      offsets.push(targets.len() as i32);
    }
    (offsets, targets)
  }

  fn plan(
    n: usize,
    edges: &[(usize, usize)],
    flags: &[u8],
    roots: &[u32],
    shared: Shared,
  ) -> Plan {
    let (o, t) = csr(n, edges);
    let g = Graph::new(&o, &t).unwrap();
    plan_unload(&g, flags, &vec![-1; n], roots, shared).unwrap()
  }

  fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort();
    v
  }

  const H: u8 = HOLDER;

  fn kept_with_holders(p: &Plan) -> Vec<(u32, Vec<u32>)> {
    p.kept
      .iter()
      .enumerate()
      .map(|(k, &node)| {
        let range = p.holder_offsets[k] as usize..p.holder_offsets[k + 1] as usize;
        (node, sorted(p.holders[range].to_vec()))
      })
      .collect()
  }

  #[test]
  fn kept_lists_the_frontier_not_what_kept_modules_require() {
    // 0 plugin -> 1 shared (held by 2 host); shared -> 3 util, which 4 other also holds.
    let p = plan(5, &[(0, 1), (2, 1), (1, 3), (4, 3)], &[H, H, H, H, H], &[0], Shared::Keep);
    assert_eq!(p.removed, vec![0]);
    assert_eq!(kept_with_holders(&p), vec![(1, vec![2])], "util is kept with shared and not listed");
  }

  #[test]
  fn a_frontier_module_held_by_a_kept_tree_module_names_it() {
    // 0 plugin -> 1 x -> 2 c; plugin -> 3 s (held by 5 host); s -> 4 h -> c.
    let p = plan(6, &[(0, 1), (1, 2), (0, 3), (5, 3), (3, 4), (4, 2)], &[H; 6], &[0], Shared::Keep);
    assert_eq!(sorted(p.removed.clone()), vec![0, 1]);
    assert_eq!(kept_with_holders(&p), vec![(3, vec![5]), (2, vec![4])]);
  }

  #[test]
  fn keeps_flag_seeds_kept_without_being_named() {
    // 0 plugin -> 1 m; 2 (a stale module that stays, KEEPS) -> 1.
    let p = plan(3, &[(0, 1), (2, 1)], &[H, H, KEEPS], &[0], Shared::Keep);
    assert_eq!(p.removed, vec![0]);
    assert_eq!(kept_with_holders(&p), vec![(1, vec![])]);
  }

  #[test]
  fn csr_from_edges_groups_by_source_in_order() {
    let (o, t) = csr_from_edges(3, &[2, 0, 2, 0], &[1, 2, 0, 1]).unwrap();
    let g = Graph::new(&o, &t).unwrap();
    assert_eq!(g.children(0).collect::<Vec<_>>(), vec![2, 1]);
    assert!(g.children(1).next().is_none());
    assert_eq!(g.children(2).collect::<Vec<_>>(), vec![1, 0]);
    assert!(csr_from_edges(2, &[0], &[2]).is_err());
    assert!(csr_from_edges(2, &[0, 1], &[1]).is_err());
  }

  #[test]
  fn rejects_malformed_csr() {
    assert!(Graph::new(&[], &[]).is_err());
    assert!(Graph::new(&[0, 2], &[0]).is_err());
    assert!(Graph::new(&[0, 1], &[5]).is_err());
    assert!(Graph::new(&[0, 2, 1], &[0, 0]).is_err());
    assert!(Graph::new(&[0, 1, 1], &[1]).is_ok());
  }

  #[test]
  fn closed_tree_is_removed_whole_importers_first() {
    // 0 main -> 1 a; a -> 2 b, 3 c; b, c -> 4 shared
    let p = plan(
      5,
      &[(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)],
      &[H | BOUNDARY, H, H, H, H],
      &[1],
      Shared::Keep,
    );
    assert_eq!(p.removed[0], 1);
    assert_eq!(sorted(p.removed.clone()), vec![1, 2, 3, 4]);
    let pos = |x: u32| p.removed.iter().position(|&r| r == x).unwrap();
    assert!(pos(2) < pos(4) && pos(3) < pos(4), "importers come first: {:?}", p.removed);
    assert!(p.kept.is_empty());
    assert_eq!(p.cut_children_of, vec![0]);
  }

  #[test]
  fn shared_dependency_held_by_live_module_is_kept_with_its_own_deps() {
    // 0 host -> 1 plugin, 0 host -> 3 lib; plugin -> 2 own, plugin -> 3 lib; lib -> 4 util
    let p = plan(5, &[(0, 1), (0, 3), (1, 2), (1, 3), (3, 4)], &[H; 5], &[1], Shared::Keep);
    assert_eq!(sorted(p.removed.clone()), vec![1, 2]);
    assert_eq!(p.kept, vec![3], "util (4) is kept through lib and not listed");
    assert_eq!(p.holders, vec![0]);
    assert_eq!(p.holder_offsets, vec![0, 1]);
    // with 'remove', everything reachable goes
    let p = plan(5, &[(0, 1), (0, 3), (1, 2), (1, 3), (3, 4)], &[H; 5], &[1], Shared::Remove);
    assert_eq!(sorted(p.removed), vec![1, 2, 3, 4]);
    assert!(p.kept.is_empty());
  }

  #[test]
  fn root_is_removed_even_when_a_live_module_requires_it() {
    let p = plan(2, &[(0, 1)], &[H, H], &[1], Shared::Keep);
    assert_eq!(p.removed, vec![1]);
    assert_eq!(p.cut_children_of, vec![0]);
  }

  #[test]
  fn cycles_inside_the_tree_and_back_to_the_root() {
    // 1 a <-> 2 b, b -> 3 c -> 1 a
    let p = plan(4, &[(0, 1), (1, 2), (2, 1), (2, 3), (3, 1)], &[H; 4], &[1], Shared::Keep);
    assert_eq!(p.removed, vec![1, 2, 3]);
  }

  #[test]
  fn holder_counts_only_outside_the_unloaded_set() {
    // diamond: 1 -> 2, 1 -> 3, 2 -> 4, 3 -> 4: 4 is held only by tree members
    let p = plan(5, &[(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)], &[H; 5], &[1], Shared::Keep);
    assert_eq!(sorted(p.removed), vec![1, 2, 3, 4]);
  }

  #[test]
  fn non_holders_do_not_keep_anything() {
    // node 0 is a stale (non-holder) module that still lists 2 in its children
    let p = plan(3, &[(0, 2), (1, 2)], &[0, H, H], &[1], Shared::Keep);
    assert_eq!(p.removed, vec![1, 2]);
    assert_eq!(p.cut_children_of, vec![0], "its stale edge is cut all the same");
  }

  #[test]
  fn a_boundary_below_a_kept_module_only_is_not_skipped() {
    // 0 live host -> 2 shared; 1 plugin (root) -> 2 shared -> 3 addon.node; plugin -> 4 addon2.node
    let flags = [H, H, H, H | BOUNDARY, H | BOUNDARY];
    let edges = [(0, 2), (1, 2), (2, 3), (1, 4)];
    let p = plan(5, &edges, &flags, &[1], Shared::Keep);
    assert_eq!(p.removed, vec![1]);
    assert_eq!(p.kept, vec![2]);
    assert_eq!(p.skipped, vec![4], "the addon only the kept module requires is not reported");
  }

  #[test]
  fn boundaries_are_skipped_not_walked_and_keep_their_dependencies() {
    // 1 plugin -> 2 addon.node (boundary) -> 3 helper; plugin -> 3 helper, 1 -> 4 own
    let flags = [H, H, H | BOUNDARY, H, H];
    let edges = [(0, 1), (1, 2), (2, 3), (1, 3), (1, 4)];
    for shared in [Shared::Keep, Shared::Remove] {
      let p = plan(5, &edges, &flags, &[1], shared);
      assert_eq!(sorted(p.removed.clone()), vec![1, 4], "{shared:?}");
      assert_eq!(p.skipped, vec![2]);
      assert_eq!(p.kept, vec![3]);
      assert_eq!(p.holders, vec![2]);
    }
  }

  #[test]
  fn several_holders_are_listed_once_each() {
    let p = plan(4, &[(0, 2), (3, 2), (1, 2), (0, 2)], &[H; 4], &[1], Shared::Keep);
    assert_eq!(p.kept, vec![2]);
    assert_eq!(p.holders, vec![0, 3]);
  }

  #[test]
  fn parents_pointing_into_the_removed_set_are_reset() {
    // 1 plugin first required 2 lib; host 0 also requires lib, so lib stays but its parent goes
    let (o, t) = csr(3, &[(0, 1), (0, 2), (1, 2)]);
    let g = Graph::new(&o, &t).unwrap();
    let p = plan_unload(&g, &[H; 3], &[-1, 0, 1], &[1], Shared::Keep).unwrap();
    assert_eq!(p.removed, vec![1]);
    assert_eq!(p.kept, vec![2]);
    assert_eq!(p.reset_parent_of, vec![2]);
  }

  #[test]
  fn several_roots_one_plan() {
    let p = plan(4, &[(0, 1), (0, 2), (1, 3), (2, 3)], &[H; 4], &[1, 2], Shared::Keep);
    assert_eq!(sorted(p.removed), vec![1, 2, 3]);
  }

  #[test]
  fn long_chains_do_not_recurse() {
    let n = 200_000;
    let edges: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
    let p = plan(n, &edges, &vec![H; n], &[0], Shared::Keep);
    assert_eq!(p.removed.len(), n);
    assert_eq!(p.removed[0], 0);
    assert_eq!(p.removed[n - 1], (n - 1) as u32);
  }

  #[test]
  fn bad_roots_are_errors() {
    let (o, t) = csr(2, &[(0, 1)]);
    let g = Graph::new(&o, &t).unwrap();
    assert!(plan_unload(&g, &[H, H], &[-1, -1], &[7], Shared::Keep).is_err());
    assert!(plan_unload(&g, &[H], &[-1, -1], &[0], Shared::Keep).is_err());
  }

  #[test]
  fn reversed_graph_lists_importers() {
    let (o, t) = csr(3, &[(0, 2), (1, 2), (2, 0)]);
    let g = Graph::new(&o, &t).unwrap();
    let (ro, rt) = g.reversed();
    let r = Graph::new(&ro, &rt).unwrap();
    assert_eq!(r.children(2).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(r.children(0).collect::<Vec<_>>(), vec![2]);
  }
}
