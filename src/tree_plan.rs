//! The plan of an `uncacheTree`, made on the live module graph itself (`LiveGraph`), in plain
//! Rust (no N-API types).
//!
//! The rule of what stays is `graph::plan_unload`'s, and only there: this module cuts out of the
//! live graph the part that can change that plan — the forward closure of the roots over `CHILD`
//! edges (not entering boundaries), the boundaries met, and every node that refers to a closure
//! node — and hands it over as a small CSR graph. Nodes outside that part cannot change the plan:
//! a holder that lists no closure node keeps nothing of the tree. The cost is the closure and its
//! referrers, never the graph's size.
//!
//! The live graph is a *superset* of the references the loader made (an edge stays until one end
//! is forgotten, see `live_graph.rs`), and the planner cannot see the objects. So the plan comes
//! with the references it relied on (`relied`): for each removed module but the roots, one edge
//! from a removed module that requires it; for each kept module of the frontier, a chain of edges
//! from a live holder to it, and the holders the report names. The JS side reads those fields on
//! the live objects: an edge that is no longer there is dropped (`drop_child_edges`), a "holder"
//! that no longer holds (deleted from the cache by other code) is named in `non_holders`, and the
//! plan is made again. What the loader made is always recorded, so the graph never *misses* a
//! reference the plan needs (references made by hand are read by `rescan()`).
use crate::graph::{csr_from_edges, plan_unload, Graph, GraphError, Marks, Plan, Shared, BOUNDARY, HOLDER};
use crate::live_graph::{IdMap, IdSet, LiveGraph, CHILD, PARENT};

/// What the planner is asked, in live-graph ids.
pub struct TreeRequest<'a> {
  /// The modules to unload (never boundaries: the caller refuses or skips those first).
  pub roots: &'a [u32],
  /// Modules never unloaded or walked: the main module, `.node` addons, modules still loading,
  /// modules kept by the option.
  pub boundaries: &'a [u32],
  /// Modules that hold nothing from outside the tree: deleted from the cache by other code,
  /// stand-ins, instances whose load threw (every other node is taken for a live holder).
  pub non_holders: &'a [u32],
  pub shared: Shared,
}

/// Why an edge of `relied` is there: the JS side checks the reference, and for a holder edge also
/// that its source is a live holder.
pub const RELIED_REFERENCE: u8 = 0;
pub const RELIED_HOLDER: u8 = 1;

/// `graph::Plan` in live-graph ids, with the references it relied on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TreePlan {
  pub plan: Plan,
  pub relied_from: Vec<u32>,
  pub relied_to: Vec<u32>,
  pub relied_kind: Vec<u8>,
}

/// The part of the live graph an unload can see, numbered locally.
struct Cut {
  ids: Vec<u32>,
  local: IdMap<u32>,
  /// Nodes `[0, closure)` are the closure and the boundaries it meets.
  closure: usize,
}

impl Cut {
  fn index(&mut self, id: u32) -> u32 {
    let next = self.ids.len() as u32;
    *self.local.entry(id).or_insert_with(|| {
      self.ids.push(id);
      next
    })
  }
}

/// Plans the unload of `req.roots` on `g` (see the module documentation).
pub fn plan_tree(g: &LiveGraph, req: &TreeRequest) -> Result<TreePlan, GraphError> {
  let is_boundary: IdSet = req.boundaries.iter().copied().collect();
  let mut cut = Cut { ids: Vec::new(), local: IdMap::default(), closure: 0 };
  for &r in req.roots {
    cut.index(r);
  }
  let roots_local: Vec<u32> = req.roots.iter().map(|r| cut.local[r]).collect();
  let root_count = cut.ids.len();
  // The closure, breadth first over CHILD edges; boundaries are nodes, never walked. `found_by[i]`
  // is the closure node that led to node i (u32::MAX for the roots).
  let mut found_by: Vec<u32> = vec![u32::MAX; root_count];
  let mut next = 0;
  while next < cut.ids.len() {
    let id = cut.ids[next];
    next += 1;
    if next > root_count && is_boundary.contains(&id) {
      continue;
    }
    for child in g.children(id) {
      if cut.index(child) as usize == found_by.len() {
        found_by.push(next as u32 - 1);
      }
    }
  }
  cut.closure = cut.ids.len();
  // Every referrer of a closure node, and the edges into the closure: the edges of a closure node
  // in its recorded `children` order (the removal order follows it), the others from the
  // referrer lists (a barrel that lists 20k modules is not read whole).
  let mut from: Vec<i32> = Vec::new();
  let mut to: Vec<i32> = Vec::new();
  let mut parent_of: Vec<(u32, u32)> = Vec::new();
  for i in 0..cut.closure {
    let id = cut.ids[i];
    // (A boundary was not walked: only its edges into the closure count.)
    for child in g.children(id) {
      if let Some(&c) = cut.local.get(&child) {
        from.push(i as i32);
        to.push(c as i32);
      }
    }
    for p in g.parents(id) {
      if let Some(&pl) = cut.local.get(&p) {
        parent_of.push((i as u32, pl));
      }
    }
    for r in g.referrers(id) {
      let inside = cut.local.get(&r.from).is_some_and(|&l| (l as usize) < cut.closure);
      if inside {
        continue; // its CHILD edges were added from its own list, its parent below
      }
      let rl = cut.index(r.from);
      if r.kinds & CHILD != 0 {
        from.push(rl as i32);
        to.push(i as i32);
      }
      if r.kinds & PARENT != 0 {
        parent_of.push((rl, i as u32));
      }
    }
  }
  let n = cut.ids.len();
  let mut parent = vec![-1i32; n];
  for (node, p) in parent_of {
    // A node recorded with several parents: the one in the closure counts (it is the one cut).
    if parent[node as usize] < 0 || (p as usize) < cut.closure {
      parent[node as usize] = p as i32;
    }
  }
  let non_holders: IdSet = req.non_holders.iter().copied().collect();
  let flags: Vec<u8> = cut
    .ids
    .iter()
    .map(|id| {
      let holder = if non_holders.contains(id) { 0 } else { HOLDER };
      let is_root = (cut.local[id] as usize) < root_count;
      let boundary = if is_boundary.contains(id) && !is_root { BOUNDARY } else { 0 };
      holder | boundary
    })
    .collect();
  let (offsets, targets) = csr_from_edges(n, &from, &to)?;
  let local = Graph::new(&offsets, &targets)?;
  let plan = plan_unload(&local, &flags, &parent, &roots_local, req.shared)?;
  let (relied_from, relied_to, relied_kind) = relied_edges(&local, &flags, &found_by, &roots_local, &plan, req.shared);
  let ids = &cut.ids;
  let to_ids = |v: &[u32]| v.iter().map(|&i| ids[i as usize]).collect::<Vec<u32>>();
  Ok(TreePlan {
    plan: Plan {
      removed: to_ids(&plan.removed),
      kept: to_ids(&plan.kept),
      holder_offsets: plan.holder_offsets.clone(),
      holders: to_ids(&plan.holders),
      skipped: to_ids(&plan.skipped),
      cut_children_of: to_ids(&plan.cut_children_of),
      reset_parent_of: to_ids(&plan.reset_parent_of),
    },
    relied_from: to_ids(&relied_from),
    relied_to: to_ids(&relied_to),
    relied_kind,
  })
}

/// The references the plan relied on, as local (from, to, kind) lists (see the module
/// documentation).
fn relied_edges(g: &Graph, flags: &[u8], found_by: &[u32], roots: &[u32], plan: &Plan, shared: Shared) -> (Vec<u32>, Vec<u32>, Vec<u8>) {
  let n = g.len();
  let closure = found_by.len();
  let mut out = (Vec::new(), Vec::new(), Vec::new());
  let mut push = |f: usize, t: usize, kind: u8| {
    out.0.push(f as u32);
    out.1.push(t as u32);
    out.2.push(kind);
  };
  let mut removed = Marks::new(n);
  for &r in &plan.removed {
    removed.set(r as usize);
  }
  let mut is_root = Marks::new(n);
  for &r in roots {
    is_root.set(r as usize);
  }
  // Each removed module but the roots: reached from a removed one.
  let mut reached = Marks::new(n);
  for &r in roots {
    reached.set(r as usize);
  }
  for &u in &plan.removed {
    for c in g.children(u as usize) {
      if removed.get(c) && reached.set(c) {
        push(u as usize, c, RELIED_REFERENCE);
      }
    }
  }
  // How a node of the closure was found from the roots: a module that is in the tree only
  // through a stale reference, or only past a module that turns out to be a boundary, is not.
  let mut found = Marks::new(n);
  for &r in &plan.removed {
    found.set(r as usize); // (each reached from a removed module, above)
  }
  let mut membership = |c: usize, push: &mut dyn FnMut(usize, usize, u8)| {
    let mut c = c;
    while c < closure && found.set(c) {
      let from = found_by[c] as usize;
      push(from, c, RELIED_REFERENCE);
      c = from;
    }
  };
  for &b in &plan.skipped {
    membership(b as usize, &mut push);
  }
  if plan.kept.is_empty() {
    return out;
  }
  // Why each module of the tree stays: breadth first from the live holders outside the tree
  // (with shared: 'remove', from the boundaries), never through a root or a removed module: the
  // seeds of plan_unload's rule. (A kept module of the tree is no seed: its own chain is.)
  // `why[c]` is the node it was reached from, `seed[c]` whether that node is the holder itself.
  let mut why = vec![u32::MAX; n];
  let mut seed = Marks::new(n);
  let mut queue: Vec<usize> = Vec::new();
  let stays = |c: usize| !removed.get(c) && !is_root.get(c) && flags[c] & BOUNDARY == 0;
  for h in 0..n {
    let holds = match shared {
      Shared::Keep => flags[h] & HOLDER != 0 && (h >= closure || flags[h] & BOUNDARY != 0),
      Shared::Remove => flags[h] & BOUNDARY != 0,
    };
    if !holds {
      continue;
    }
    for c in g.children(h) {
      if stays(c) && why[c] == u32::MAX && c != h {
        why[c] = h as u32;
        seed.set(c);
        queue.push(c);
      }
    }
  }
  let mut k = 0;
  while k < queue.len() {
    let u = queue[k];
    k += 1;
    for c in g.children(u) {
      if stays(c) && why[c] == u32::MAX {
        why[c] = u as u32;
        queue.push(c);
      }
    }
  }
  // With shared: 'remove' the boundaries met and the modules of the tree hold whatever they are:
  // only their references count.
  let holder_kind = match shared {
    Shared::Keep => RELIED_HOLDER,
    Shared::Remove => RELIED_REFERENCE,
  };
  let mut emitted = Marks::new(n);
  for (i, &kept) in plan.kept.iter().enumerate() {
    let mut c = kept as usize;
    while why[c] != u32::MAX && emitted.set(c) {
      // A module of the chain that holds nothing itself (deleted from the cache by other code)
      // passes the hold on only from inside the tree: how it was found counts too.
      membership(c, &mut push);
      let from = why[c] as usize;
      push(from, c, if seed.get(c) { holder_kind } else { RELIED_REFERENCE });
      if seed.get(c) {
        break;
      }
      c = from;
    }
    // The holders the report names. The edge from the one that seeded this module's chain is
    // already listed (an emitted seed `c` has exactly one such edge, `why[c] -> c`).
    let seeded_by = if seed.get(kept as usize) && emitted.get(kept as usize) { why[kept as usize] } else { u32::MAX };
    let (start, end) = (plan.holder_offsets[i] as usize, plan.holder_offsets[i + 1] as usize);
    for &h in &plan.holders[start..end] {
      if h != seeded_by {
        push(h as usize, kept as usize, holder_kind);
      }
    }
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  fn graph(children: &[(u32, u32)], parents: &[(u32, u32)]) -> LiveGraph {
    let mut g = LiveGraph::new();
    let (f, t): (Vec<u32>, Vec<u32>) = children.iter().copied().unzip();
    g.add_edges(&f, &t).unwrap();
    let (f, t): (Vec<u32>, Vec<u32>) = parents.iter().copied().unzip();
    g.add_parent_edges(&f, &t).unwrap();
    g
  }

  fn plan(g: &LiveGraph, roots: &[u32], boundaries: &[u32], non_holders: &[u32]) -> TreePlan {
    plan_tree(g, &TreeRequest { roots, boundaries, non_holders, shared: Shared::Keep }).unwrap()
  }

  fn relied(p: &TreePlan) -> Vec<(u32, u32, u8)> {
    (0..p.relied_from.len()).map(|k| (p.relied_from[k], p.relied_to[k], p.relied_kind[k])).collect()
  }

  // main 1 requires plugin 10 and util 30; the plugin requires its own 11 and the shared 30.
  fn plugin_host() -> LiveGraph {
    graph(&[(1, 10), (1, 30), (10, 11), (10, 30), (11, 12)], &[(10, 1), (11, 10), (12, 11), (30, 1)])
  }

  #[test]
  fn a_shared_module_stays_with_its_live_holder_and_the_plan_names_both() {
    let g = plugin_host();
    let p = plan(&g, &[10], &[1], &[]);
    assert_eq!(p.plan.removed, vec![10, 11, 12]);
    assert_eq!(p.plan.kept, vec![30]);
    assert_eq!(p.plan.holders, vec![1]);
    assert_eq!(p.plan.cut_children_of, vec![1]);
    assert_eq!(p.plan.reset_parent_of, Vec::<u32>::new());
    // Removed 11 and 12 were reached through removed modules; 30 is kept by its holder 1.
    // 30 is in the tree through 10; it stays through its holder 1, which the report names.
    assert_eq!(relied(&p), vec![(10, 11, 0), (11, 12, 0), (10, 30, 0), (1, 30, 1)]);
  }

  #[test]
  fn a_parent_edge_never_holds_and_a_survivor_whose_parent_goes_is_reset() {
    // 30 was first required by the plugin 10 (its parent), then by main 1.
    let g = graph(&[(1, 10), (10, 30), (1, 30)], &[(10, 1), (30, 10)]);
    let p = plan(&g, &[10], &[1], &[]);
    assert_eq!(p.plan.removed, vec![10]);
    assert_eq!(p.plan.kept, vec![30]);
    assert_eq!(p.plan.reset_parent_of, vec![30]);
  }

  #[test]
  fn a_module_other_code_deleted_from_the_cache_holds_nothing() {
    // 20 lists the shared 30 but is no holder (deleted from the cache by other code): 30 goes.
    let g = graph(&[(1, 10), (10, 30), (20, 30)], &[]);
    assert_eq!(plan(&g, &[10], &[1], &[]).plan.kept, vec![30]);
    let p = plan(&g, &[10], &[1], &[20]);
    assert_eq!(p.plan.removed, vec![10, 30]);
    assert_eq!(p.plan.cut_children_of, vec![1, 20]);
  }

  #[test]
  fn a_module_kept_deep_in_the_tree_relies_on_the_chain_from_its_holder() {
    // plugin 10 -> 11 -> 12 -> 13; 13 is held by main 1 through 40 -> 41 (outside) ... and 12 by 40.
    let g = graph(&[(1, 10), (10, 11), (11, 12), (12, 13), (1, 40), (40, 12)], &[]);
    let p = plan(&g, &[10], &[1], &[]);
    assert_eq!(p.plan.removed, vec![10, 11]);
    assert_eq!(p.plan.kept, vec![12]);
    assert_eq!(p.plan.holders, vec![40]);
    assert_eq!(relied(&p), vec![(10, 11, 0), (11, 12, 0), (40, 12, 1)]);
  }

  #[test]
  fn boundaries_are_skipped_not_walked_and_hold_what_they_list() {
    // the plugin 10 loads an addon 50 that lists 51 (its JS wrapper, also required by 10).
    let g = graph(&[(1, 10), (10, 50), (10, 51), (50, 51)], &[]);
    let p = plan(&g, &[10], &[1, 50], &[]);
    assert_eq!(p.plan.removed, vec![10]);
    assert_eq!(p.plan.skipped, vec![50]);
    assert_eq!(p.plan.kept, vec![51]);
    assert_eq!(p.plan.holders, vec![50]);
  }

  #[test]
  fn shared_remove_takes_what_only_boundaries_do_not_hold() {
    let g = plugin_host();
    let p = plan_tree(&g, &TreeRequest { roots: &[10], boundaries: &[1], non_holders: &[], shared: Shared::Remove }).unwrap();
    assert_eq!(p.plan.removed, vec![10, 30, 11, 12]);
    assert_eq!(p.plan.kept, Vec::<u32>::new());
    // A boundary holds with shared: 'remove' whatever it is: only its reference is relied on.
    let g = graph(&[(1, 10), (10, 50), (10, 51), (50, 51)], &[]);
    let p = plan_tree(&g, &TreeRequest { roots: &[10], boundaries: &[1, 50], non_holders: &[50], shared: Shared::Remove }).unwrap();
    assert_eq!(p.plan.kept, vec![51]);
    assert_eq!(relied(&p), vec![(10, 50, 0), (10, 51, 0), (50, 51, 0)]);
  }

  #[test]
  fn a_kept_module_that_lists_itself_is_among_its_holders() {
    let g = graph(&[(3, 2), (2, 2), (9, 2)], &[]);
    let p = plan(&g, &[3], &[], &[]);
    assert_eq!(p.plan.removed, vec![3]);
    assert_eq!(p.plan.kept, vec![2]);
    assert_eq!(p.plan.holders, vec![2, 9]);
  }

  #[test]
  fn a_module_that_holds_nothing_passes_the_hold_on_only_from_inside_the_tree() {
    // 3 -> 2 -> 1 -> 4 -> 2; 4 was deleted from the cache by other code (no holder), and the
    // outside requirer 42 lists it. The plan keeps 2 through 42 -> 4 -> 2, and relies on how 4
    // was found: 3 -> 2 -> 1 -> 4 (if 1 is a boundary, 4 is no part of the tree and holds nothing).
    let g = graph(&[(3, 2), (2, 1), (1, 4), (4, 2), (42, 4)], &[]);
    let p = plan(&g, &[3], &[], &[4]);
    assert_eq!(p.plan.kept, vec![2]);
    assert_eq!(relied(&p), vec![(3, 2, 0), (4, 2, 0), (1, 4, 0), (2, 1, 0), (42, 4, 1)]);
    let p = plan(&g, &[3], &[1], &[4]);
    assert_eq!(p.plan.removed, vec![3, 2]);
    assert_eq!(p.plan.skipped, vec![1]);
  }

  #[test]
  fn a_cycle_through_the_root_goes_whole() {
    let g = graph(&[(1, 10), (10, 11), (11, 10)], &[]);
    let p = plan(&g, &[10], &[1], &[]);
    assert_eq!(p.plan.removed, vec![10, 11]);
    assert_eq!(p.plan.cut_children_of, vec![1]);
  }

  #[test]
  fn the_cost_is_the_closure_and_its_referrers_not_the_graph() {
    // A barrel 2 lists 20k modules, one of them the plugin's shared module 30.
    let mut edges: Vec<(u32, u32)> = (100..20_100).map(|m| (2, m)).collect();
    edges.extend([(1, 2), (1, 10), (10, 30), (2, 30)]);
    let g = graph(&edges, &[]);
    let p = plan(&g, &[10], &[1], &[]);
    assert_eq!(p.plan.removed, vec![10]);
    assert_eq!(p.plan.kept, vec![30]);
    assert_eq!(p.plan.holders, vec![2]);
  }

  #[test]
  fn a_boundary_lists_modules_outside_the_closure_and_is_not_walked() {
    // the plugin 10 requires the addon 50, which lists 60 (outside the tree) and the plugin's 11.
    let g = graph(&[(1, 10), (10, 50), (10, 11), (50, 60), (50, 11), (60, 61)], &[]);
    let p = plan(&g, &[10], &[1, 50], &[]);
    assert_eq!(p.plan.removed, vec![10]);
    assert_eq!(p.plan.kept, vec![11]);
    assert_eq!(p.plan.skipped, vec![50]);
  }

  #[test]
  fn a_root_that_is_unknown_to_the_graph_is_removed_alone() {
    let g = LiveGraph::new();
    let p = plan(&g, &[7], &[], &[]);
    assert_eq!(p.plan.removed, vec![7]);
    assert!(p.relied_from.is_empty());
  }
}
