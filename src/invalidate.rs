//! Which modules a change makes stale, in plain Rust (no N-API types).
//!
//! `invalidate(changed)` walks *up* the module graph (the reverse of `children`): a changed
//! module is stale, and so is every module that requires a stale one, because it holds the old
//! exports. The walk stops
//! - at an edge whose importer accepted that dependency (`hot(module).accept(deps)`): the
//!   importer stays and is told which of its dependencies were unloaded;
//! - at a module that accepts itself (`hot(module).accept()`): it is unloaded and required again
//!   by the library, its importers keep what they have;
//! - at modules that are never unloaded (main, `.node`, still loading, kept by option: the
//!   `BOUNDARY` flag), which are reported;
//! - at requirers outside `require.cache` (`createRequire` proxies), which are only cut. A
//!   module that other code deleted from the cache (`STALE`) is no such requirer: it still holds
//!   the old exports for the live importers above it, so the walk goes through it (it is unloaded
//!   like a cached importer, with no cache key to delete).
//!
//! A module that declines (`hot(module).decline()`, or `decline(deps)` for one edge) refuses the
//! update of every changed module whose walk reaches it: nothing that update would unload is
//! unloaded, so no module ever runs against a half-applied update. Other changed modules in the
//! same call go ahead; a module stale through both keeps being unloaded, against the old version
//! of the refused file (which stays loaded with its identity).
//!
//! Everything is linear in nodes + edges (edge lookups are binary searches), except the report of
//! which declining module blocked which change, which walks once per blocked change.

use crate::graph::{cut_lists, importers_first, Graph, GraphError, Marks, BOUNDARY, SELF_ACCEPTS};

/// Node flag (invalidate only): the module declined its own updates.
pub const SELF_DECLINES: u8 = 16;

/// Node flag (invalidate only), on a node outside `0..cached`: a module that other code deleted
/// from `require.cache` and that a live module still reaches. The walk climbs through it.
pub const STALE: u8 = 64;

/// What invalidating `roots` unloads, keeps and tells, computed before anything changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InvalidatePlan {
  /// Stale modules, importers before the modules they import (the order dispose handlers run).
  pub removed: Vec<u32>,
  /// The removed modules that accept themselves: the library requires them again.
  pub self_accepted: Vec<u32>,
  /// (importer, dependency) edges where an importer that stays accepted a removed dependency;
  /// sorted.
  pub accepted: Vec<(u32, u32)>,
  /// Modules that are never unloaded, met on the way up (reported as skipped; not walked).
  pub skipped: Vec<u32>,
  /// Declining modules that refused an update, each with the roots whose update they refused:
  /// `declined[i]` blocked `blocked[blocked_offsets[i]..blocked_offsets[i + 1]]`.
  pub declined: Vec<u32>,
  pub blocked_offsets: Vec<u32>,
  pub blocked: Vec<u32>,
  /// Nodes that stay and have a removed child: their `children` get filtered.
  pub cut_children_of: Vec<u32>,
  /// Nodes that stay and whose recorded parent is removed: their `parent` gets reset.
  pub reset_parent_of: Vec<u32>,
}

/// A set of (importer, dependency) edges.
struct EdgeSet(Vec<(u32, u32)>);

impl EdgeSet {
  /// From flat pairs `[importer, dependency, importer, dependency, ...]`.
  fn from_pairs(pairs: &[u32], n: usize, what: &str) -> Result<Self, GraphError> {
    if !pairs.len().is_multiple_of(2) {
      return Err(GraphError(format!("{what} must hold (importer, dependency) pairs")));
    }
    if let Some(bad) = pairs.iter().find(|&&i| i as usize >= n) {
      return Err(GraphError(format!("{what} node {bad} is not a node index")));
    }
    let mut edges: Vec<(u32, u32)> = pairs.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    edges.sort_unstable();
    edges.dedup();
    Ok(EdgeSet(edges))
  }

  fn contains(&self, importer: usize, dependency: usize) -> bool {
    self.0.binary_search(&(importer as u32, dependency as u32)).is_ok()
  }
}

/// What reaching a module does to the walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
  /// Outside `require.cache`: its edge is cut, nothing else.
  Outside,
  /// Declines: the update that reached it is refused.
  Decline,
  /// Never unloaded (main, addon, loading, kept): reported, not walked.
  Boundary,
  /// Stale, and accepts itself: unloaded, its importers are not walked.
  SelfAccept,
  /// Stale: unloaded, and its importers are walked.
  Propagate,
}

struct Walk<'a> {
  graph: &'a Graph<'a>,
  importers: Graph<'a>,
  flags: &'a [u8],
  cached: usize,
  accepted: EdgeSet,
  declined: EdgeSet,
}

impl Walk<'_> {
  fn reach(&self, node: usize) -> Reach {
    let f = self.flags[node];
    if node >= self.cached && f & STALE == 0 {
      Reach::Outside
    } else if f & SELF_DECLINES != 0 && f & SELF_ACCEPTS == 0 {
      // webpack: a module that both accepts and declines itself counts as accepting.
      Reach::Decline
    } else if f & BOUNDARY != 0 {
      Reach::Boundary
    } else if f & SELF_ACCEPTS != 0 {
      Reach::SelfAccept
    } else {
      Reach::Propagate
    }
  }

  /// Nodes whose update is refused: those from which the walk reaches a decline. Computed for
  /// all nodes at once, downward from the decliners along the edges the walk would climb.
  fn poisoned(&self) -> Marks {
    let n = self.graph.len();
    let mut poisoned = Marks::new(n);
    let mut queue: Vec<u32> = Vec::new();
    for node in 0..n {
      let seed = match self.reach(node) {
        Reach::Decline => true,
        Reach::Propagate => self.importers.children(node).any(|p| self.declined.contains(p, node)),
        _ => false,
      };
      if seed && poisoned.set(node) {
        queue.push(node as u32);
      }
    }
    while let Some(p) = queue.pop() {
      let p = p as usize;
      for x in self.graph.children(p) {
        if self.reach(x) == Reach::Propagate && !self.accepted.contains(p, x) && poisoned.set(x) {
          queue.push(x as u32);
        }
      }
    }
    poisoned
  }

  /// The declining modules the walk from `root` runs into. `seen` is stamped per walk so that
  /// one allocation serves every blocked root.
  fn decliners_met(&self, root: usize, seen: &mut [u32], stamp: u32) -> Vec<u32> {
    let mut met = Vec::new();
    let mut queue = vec![root];
    seen[root] = stamp;
    while let Some(x) = queue.pop() {
      match self.reach(x) {
        Reach::Decline => {
          met.push(x as u32);
          continue;
        }
        Reach::Propagate => {}
        _ => continue,
      }
      for p in self.importers.children(x) {
        if self.declined.contains(p, x) {
          met.push(p as u32);
        } else if !self.accepted.contains(p, x) && seen[p] != stamp {
          seen[p] = stamp;
          queue.push(p);
        }
      }
    }
    met.sort_unstable();
    met.dedup();
    met
  }
}

/// The invalidation plan for the changed modules `roots`.
///
/// `flags` uses `graph::BOUNDARY`, `graph::SELF_ACCEPTS` and `SELF_DECLINES`; nodes
/// `0..cached` are `require.cache` values, the rest are requirers outside the cache. `parent[i]`
/// is node `i`'s recorded first requirer, or -1. `accepted` and `declined` are flat
/// `(importer, dependency)` pairs.
pub fn plan_invalidate(
  g: &Graph,
  flags: &[u8],
  parent: &[i32],
  cached: usize,
  roots: &[u32],
  accepted: &[u32],
  declined: &[u32],
) -> Result<InvalidatePlan, GraphError> {
  let n = g.len();
  if flags.len() != n || parent.len() != n {
    return Err(GraphError("flags and parent must have one entry per node".into()));
  }
  if cached > n {
    return Err(GraphError("cached must not exceed the number of nodes".into()));
  }
  if let Some(bad) = roots.iter().find(|&&r| r as usize >= cached) {
    return Err(GraphError(format!("root {bad} is not a require.cache node")));
  }
  let (rev_offsets, rev_targets) = g.reversed();
  let walk = Walk {
    graph: g,
    importers: Graph::new(&rev_offsets, &rev_targets)?,
    flags,
    cached,
    accepted: EdgeSet::from_pairs(accepted, n, "accepted")?,
    declined: EdgeSet::from_pairs(declined, n, "declined")?,
  };
  let poisoned = walk.poisoned();

  let mut plan = InvalidatePlan::default();
  let mut member = Marks::new(n);
  let mut met_boundary = Marks::new(n);
  let mut blocked_roots: Vec<u32> = Vec::new();
  let mut queue: Vec<u32> = Vec::new();
  let mut seen_root = Marks::new(n);
  for &r in roots {
    let r = r as usize;
    if !seen_root.set(r) {
      continue;
    }
    if poisoned.get(r) {
      blocked_roots.push(r as u32);
      continue;
    }
    match walk.reach(r) {
      Reach::Boundary => {
        if met_boundary.set(r) {
          plan.skipped.push(r as u32);
        }
      }
      Reach::SelfAccept | Reach::Propagate => {
        if member.set(r) {
          queue.push(r as u32);
        }
      }
      // Roots are cache nodes (checked above), and a decliner is always poisoned.
      Reach::Outside | Reach::Decline => unreachable!("root {r} cannot be outside or declining here"),
    }
  }
  let mut next = 0;
  while next < queue.len() {
    let x = queue[next] as usize;
    next += 1;
    if walk.reach(x) != Reach::Propagate {
      continue;
    }
    for p in walk.importers.children(x) {
      if walk.accepted.contains(p, x) {
        plan.accepted.push((p as u32, x as u32));
        continue;
      }
      match walk.reach(p) {
        Reach::Boundary => {
          if met_boundary.set(p) {
            plan.skipped.push(p as u32);
          }
        }
        Reach::SelfAccept | Reach::Propagate => {
          if member.set(p) {
            queue.push(p as u32);
          }
        }
        // An unpoisoned module never reaches a decline; requirers outside the cache are cut.
        Reach::Outside | Reach::Decline => {}
      }
    }
  }
  // An acceptor that is stale itself is unloaded: webpack does not call its handlers either.
  plan.accepted.retain(|&(acceptor, _)| !member.get(acceptor as usize));
  plan.accepted.sort_unstable();
  plan.accepted.dedup();

  // Who refused what: (decliner, position of the blocked root), grouped by decliner.
  let mut refusals: Vec<(u32, u32)> = Vec::new();
  let mut seen = vec![0u32; n];
  for (k, &r) in blocked_roots.iter().enumerate() {
    for d in walk.decliners_met(r as usize, &mut seen, k as u32 + 1) {
      refusals.push((d, k as u32));
    }
  }
  let mut first_seen: Vec<u32> = Vec::new();
  let mut is_decliner = Marks::new(n);
  for &(d, _) in &refusals {
    if is_decliner.set(d as usize) {
      first_seen.push(d);
    }
  }
  refusals.sort_unstable();
  plan.blocked_offsets.push(0);
  for d in first_seen {
    let start = refusals.partition_point(|&(x, _)| x < d);
    let end = refusals.partition_point(|&(x, _)| x <= d);
    plan.declined.push(d);
    plan.blocked.extend(refusals[start..end].iter().map(|&(_, k)| blocked_roots[k as usize]));
    plan.blocked_offsets.push(plan.blocked.len() as u32);
  }
  // A module both met as a boundary and refusing an update is reported once, as declining.
  plan.skipped.retain(|&s| !is_decliner.get(s as usize));

  plan.removed = importers_first(g, &[], &member);
  plan.self_accepted = plan.removed.iter().copied().filter(|&m| walk.reach(m as usize) == Reach::SelfAccept).collect();
  (plan.cut_children_of, plan.reset_parent_of) = cut_lists(g, parent, &member);
  Ok(plan)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::graph::tests::csr;
  use crate::graph::HOLDER;

  const H: u8 = HOLDER;
  const MAIN: u8 = HOLDER | BOUNDARY;

  struct Case {
    offsets: Vec<i32>,
    targets: Vec<i32>,
    flags: Vec<u8>,
    parent: Vec<i32>,
    cached: usize,
  }

  impl Case {
    fn new(n: usize, edges: &[(usize, usize)]) -> Self {
      let (offsets, targets) = csr(n, edges);
      let mut flags = vec![H; n];
      flags[0] = MAIN;
      Case { offsets, targets, flags, parent: vec![-1; n], cached: n }
    }

    fn plan(&self, roots: &[u32], accepted: &[u32], declined: &[u32]) -> InvalidatePlan {
      let g = Graph::new(&self.offsets, &self.targets).unwrap();
      plan_invalidate(&g, &self.flags, &self.parent, self.cached, roots, accepted, declined).unwrap()
    }
  }

  fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
  }

  fn position(list: &[u32], x: u32) -> usize {
    list.iter().position(|&r| r == x).unwrap_or_else(|| panic!("{x} not in {list:?}"))
  }

  #[test]
  fn diamond_with_one_changed_branch_unloads_that_branch_and_its_importers_only() {
    // 0 main -> 1 app; app -> 2 left, 3 right; left -> 4 shared; right -> 4 shared.
    let mut case = Case::new(5, &[(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)]);
    case.parent = vec![-1, 0, 1, 1, 2];
    let p = case.plan(&[2], &[], &[]);
    assert_eq!(p.removed, vec![1, 2], "importers first; right and shared stay");
    assert_eq!(p.skipped, vec![0], "main is never unloaded");
    assert_eq!(p.cut_children_of, vec![0]);
    assert_eq!(p.reset_parent_of, vec![3, 4], "right and shared lose their removed first parent");
    assert!(p.accepted.is_empty() && p.self_accepted.is_empty() && p.declined.is_empty());
  }

  #[test]
  fn changed_shared_leaf_invalidates_both_branches() {
    let case = Case::new(5, &[(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)]);
    let p = case.plan(&[4], &[], &[]);
    assert_eq!(sorted(p.removed.clone()), vec![1, 2, 3, 4]);
    assert!(position(&p.removed, 1) < position(&p.removed, 2));
    assert!(position(&p.removed, 2) < position(&p.removed, 4));
    assert!(position(&p.removed, 3) < position(&p.removed, 4));
  }

  #[test]
  fn cycle_containing_the_changed_module_is_unloaded_whole() {
    // 0 main -> 1 a; a -> 2 b; b -> 3 c; c -> 1 a (cycle); c -> 4 leaf (not stale)
    let case = Case::new(5, &[(0, 1), (1, 2), (2, 3), (3, 1), (3, 4)]);
    let p = case.plan(&[3], &[], &[]);
    assert_eq!(sorted(p.removed.clone()), vec![1, 2, 3]);
    assert_eq!(p.skipped, vec![0]);
    assert_eq!(p.cut_children_of, vec![0], "leaf has no removed child; only main is cut");
  }

  #[test]
  fn accepting_importer_stops_the_walk_on_that_edge_only() {
    // 0 main -> 1 host; host -> 2 plugin, 3 other; plugin -> 4 lib; other -> 4 lib.
    let case = Case::new(5, &[(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)]);
    // host accepts plugin, not other.
    let accepted = [1, 2];
    let p = case.plan(&[2], &accepted, &[]);
    assert_eq!(p.removed, vec![2], "plugin changed: host accepted it and stays");
    assert_eq!(p.accepted, vec![(1, 2)]);
    assert!(p.skipped.is_empty(), "the walk never reached main");
    assert_eq!(p.cut_children_of, vec![1]);

    let p = case.plan(&[4], &accepted, &[]);
    assert_eq!(sorted(p.removed.clone()), vec![1, 2, 3, 4], "through other the update reaches host");
    assert!(p.accepted.is_empty(), "host is unloaded itself: its handler is not called");
    assert_eq!(p.skipped, vec![0]);
  }

  #[test]
  fn accepting_every_importing_edge_keeps_the_importer() {
    let case = Case::new(5, &[(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)]);
    let p = case.plan(&[4], &[1, 2, 1, 3], &[]);
    assert_eq!(sorted(p.removed.clone()), vec![2, 3, 4]);
    assert_eq!(p.accepted, vec![(1, 2), (1, 3)]);
    assert_eq!(p.cut_children_of, vec![1]);
  }

  #[test]
  fn self_accepting_module_is_unloaded_and_stops_the_walk() {
    // 0 main -> 1 app -> 2 widget (accepts itself) -> 3 util (changed)
    let mut case = Case::new(4, &[(0, 1), (1, 2), (2, 3)]);
    case.flags[2] |= SELF_ACCEPTS;
    let p = case.plan(&[3], &[], &[]);
    assert_eq!(p.removed, vec![2, 3]);
    assert_eq!(p.self_accepted, vec![2]);
    assert_eq!(p.cut_children_of, vec![1]);
    assert!(p.skipped.is_empty());
    // a changed self-accepting module: only itself
    let p = case.plan(&[2], &[], &[]);
    assert_eq!(p.removed, vec![2]);
    assert_eq!(p.self_accepted, vec![2]);
  }

  #[test]
  fn decline_refuses_the_whole_update_of_that_change() {
    // 0 main -> 1 store (declines) -> 2 model -> 3 schema (changed)
    // 0 main -> 4 view -> 5 style (changed)
    let mut case = Case::new(6, &[(0, 1), (1, 2), (2, 3), (0, 4), (4, 5)]);
    case.flags[1] |= SELF_DECLINES;
    let p = case.plan(&[3, 5], &[], &[]);
    assert_eq!(p.removed, vec![4, 5], "schema and model stay: the store refused");
    assert_eq!(p.declined, vec![1]);
    assert_eq!(p.blocked, vec![3]);
    assert_eq!(p.blocked_offsets, vec![0, 1]);
    assert_eq!(p.skipped, vec![0]);
  }

  #[test]
  fn changed_declining_module_refuses_itself() {
    let mut case = Case::new(3, &[(0, 1), (1, 2)]);
    case.flags[2] |= SELF_DECLINES;
    let p = case.plan(&[2], &[], &[]);
    assert!(p.removed.is_empty());
    assert_eq!(p.declined, vec![2]);
    assert_eq!(p.blocked, vec![2]);
    assert!(p.cut_children_of.is_empty());
  }

  #[test]
  fn decline_of_one_dependency_is_per_edge() {
    // 0 main -> 1 app; app -> 2 config, 3 page; page -> 2 config.
    let case = Case::new(4, &[(0, 1), (1, 2), (1, 3), (3, 2)]);
    // page declines updates of config.
    let p = case.plan(&[2], &[], &[3, 2]);
    assert!(p.removed.is_empty());
    assert_eq!(p.declined, vec![3]);
    assert_eq!(p.blocked, vec![2]);
    // a change of page alone goes through
    let p = case.plan(&[3], &[], &[3, 2]);
    assert_eq!(p.removed, vec![1, 3]);
  }

  #[test]
  fn a_module_stale_through_an_allowed_change_is_unloaded_even_if_another_change_was_refused() {
    // 0 main -> 1 top -> 2 mid; mid -> 3 refused (changed); 4 guard (declines) -> 3;
    // mid -> 5 allowed (changed); main -> 4 guard
    let mut case = Case::new(6, &[(0, 1), (1, 2), (2, 3), (4, 3), (2, 5), (0, 4)]);
    case.flags[4] |= SELF_DECLINES;
    let p = case.plan(&[3, 5], &[], &[]);
    assert_eq!(sorted(p.removed.clone()), vec![1, 2, 5], "the refused file keeps its identity");
    assert_eq!(p.declined, vec![4]);
    assert_eq!(p.blocked, vec![3]);
    assert_eq!(p.cut_children_of, vec![0], "guard still requires the refused file, which stays");
  }

  #[test]
  fn main_module_is_never_unloaded() {
    let case = Case::new(3, &[(0, 1), (1, 2)]);
    let p = case.plan(&[0], &[], &[]);
    assert!(p.removed.is_empty());
    assert_eq!(p.skipped, vec![0]);
    let p = case.plan(&[2], &[], &[]);
    assert_eq!(p.removed, vec![1, 2]);
    assert_eq!(p.skipped, vec![0]);
  }

  #[test]
  fn main_that_declines_is_reported_as_declining_once() {
    // 0 main -> 1 a -> 2 b; main -> 2 b; main declines updates of b
    let case = Case::new(3, &[(0, 1), (1, 2), (0, 2)]);
    let p = case.plan(&[2, 1], &[], &[0, 2]);
    assert_eq!(p.declined, vec![0]);
    assert_eq!(p.blocked, vec![2]);
    assert_eq!(p.removed, vec![1], "a goes; main met through a is listed only as declining");
    assert!(p.skipped.is_empty());
  }

  #[test]
  fn requirers_outside_the_cache_are_cut_not_unloaded() {
    // nodes 0..3 cached; 3 is a createRequire proxy that required 2
    let mut case = Case::new(4, &[(0, 1), (1, 2), (3, 2)]);
    case.cached = 3;
    let p = case.plan(&[2], &[], &[]);
    assert_eq!(p.removed, vec![1, 2]);
    assert_eq!(p.cut_children_of, vec![0, 3]);
    assert_eq!(p.skipped, vec![0], "the proxy is not reported");
  }

  #[test]
  fn the_walk_goes_through_a_module_deleted_from_the_cache_by_other_code() {
    // 0 main -> 1 app -> 4 mid (deleted from the cache, STALE) -> 2 leaf; 3 (a proxy outside the
    // cache) required leaf too
    let mut case = Case::new(5, &[(0, 1), (1, 4), (4, 2), (3, 2)]);
    case.cached = 3;
    case.flags[4] = STALE;
    let p = case.plan(&[2], &[], &[]);
    assert_eq!(p.removed, vec![1, 4, 2], "app is stale through mid");
    assert_eq!(p.cut_children_of, vec![0, 3], "main and the proxy are cut, not unloaded");
    case.flags[4] = 0;
    assert_eq!(case.plan(&[2], &[], &[]).removed, vec![2], "without the flag: a requirer that is only cut");
  }

  #[test]
  fn long_importer_chains_do_not_recurse() {
    let n = 200_000;
    let edges: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
    let mut case = Case::new(n, &edges);
    case.flags[0] = H;
    let p = case.plan(&[(n - 1) as u32], &[], &[]);
    assert_eq!(p.removed.len(), n);
    assert_eq!(p.removed[0], 0);
    let mut case = Case::new(n, &edges);
    case.flags[0] |= SELF_DECLINES;
    let p = case.plan(&[(n - 1) as u32], &[], &[]);
    assert!(p.removed.is_empty());
    assert_eq!(p.declined, vec![0]);
  }

  #[test]
  fn bad_input_is_an_error() {
    let (o, t) = csr(2, &[(0, 1)]);
    let g = Graph::new(&o, &t).unwrap();
    let flags = [H, H];
    let parent = [-1, -1];
    assert!(plan_invalidate(&g, &flags, &parent, 2, &[5], &[], &[]).is_err());
    assert!(plan_invalidate(&g, &flags, &parent, 1, &[1], &[], &[]).is_err(), "root outside the cache");
    assert!(plan_invalidate(&g, &flags, &parent, 2, &[1], &[0], &[]).is_err(), "odd pairs");
    assert!(plan_invalidate(&g, &flags, &parent, 2, &[1], &[0, 9], &[]).is_err());
    assert!(plan_invalidate(&g, &flags[..1], &parent, 2, &[1], &[], &[]).is_err());
    assert!(plan_invalidate(&g, &flags, &parent, 3, &[1], &[], &[]).is_err());
  }
}
