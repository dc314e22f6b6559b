//! What a snapshot restore unloads, in plain Rust (no N-API types).
//!
//! The graph is what `live.flattenSince` builds: nodes `[0, since)` are the modules loaded since
//! the snapshot, the others their requirers (modules loaded before, `createRequire` proxies),
//! which stay; edges only point at nodes loaded since. Every module loaded since is unloaded,
//! whoever requires it now, except boundaries (`.node` addons, modules still loading, modules the
//! restore keeps), which stay with everything loaded since that they require, transitively.
//! `kept` lists what a boundary requires directly, with those boundaries as holders (what those
//! require stays too and is not listed). Linear in nodes + edges.

use crate::graph::{cut_lists, importers_first, Graph, GraphError, Marks, Plan, BOUNDARY};

/// The plan of a restore (see the module documentation), in the shape `plan_unload` returns.
pub fn plan_restore(g: &Graph, flags: &[u8], parent: &[i32], since: usize) -> Result<Plan, GraphError> {
  let n = g.len();
  if flags.len() != n || parent.len() != n {
    return Err(GraphError("flags and parent must have one entry per node".into()));
  }
  if since > n {
    return Err(GraphError(format!("{since} nodes loaded since, but the graph has {n}")));
  }
  let mut plan = Plan::default();
  let mut kept = Marks::new(n);
  let mut queue: Vec<usize> = Vec::new();
  for i in 0..since {
    if flags[i] & BOUNDARY != 0 {
      plan.skipped.push(i as u32);
      kept.set(i);
      queue.push(i);
    }
  }
  // (kept node, boundary that requires it), in the order met.
  let mut direct: Vec<(u32, u32)> = Vec::new();
  let mut next = 0;
  while next < queue.len() {
    let h = queue[next];
    next += 1;
    let from_boundary = flags[h] & BOUNDARY != 0;
    for c in g.children(h) {
      if flags[c] & BOUNDARY != 0 {
        continue;
      }
      if from_boundary && !direct.contains(&(c as u32, h as u32)) {
        direct.push((c as u32, h as u32));
      }
      if kept.set(c) {
        queue.push(c);
      }
    }
  }
  let mut removed = Marks::new(n);
  for i in 0..since {
    if !kept.get(i) {
      removed.set(i);
    }
  }
  plan.removed = importers_first(g, &[], &removed);
  // Each kept module once, in the order it was first met, with its boundaries in order.
  plan.holder_offsets.push(0);
  let mut listed = Marks::new(n);
  for &(c, _) in &direct {
    if !listed.set(c as usize) {
      continue;
    }
    plan.kept.push(c);
    plan.holders.extend(direct.iter().filter(|&&(k, _)| k == c).map(|&(_, h)| h));
    plan.holder_offsets.push(plan.holders.len() as u32);
  }
  (plan.cut_children_of, plan.reset_parent_of) = cut_lists(g, parent, &removed);
  Ok(plan)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::graph::tests::csr;
  use crate::graph::HOLDER;

  fn restore(n: usize, edges: &[(usize, usize)], flags: &[u8], parent: &[i32], since: usize) -> Plan {
    let (o, t) = csr(n, edges);
    let g = Graph::new(&o, &t).unwrap();
    plan_restore(&g, flags, parent, since).unwrap()
  }

  #[test]
  fn everything_loaded_since_goes_importers_first_and_requirers_are_cut() {
    // since: 0 feature -> 1 helper -> 2 util; 3 host (loaded before) requires feature.
    let p = restore(4, &[(0, 1), (1, 2), (3, 0)], &[HOLDER; 4], &[3, 0, 1, -1], 3);
    assert_eq!(p.removed, vec![0, 1, 2]);
    assert!(p.kept.is_empty() && p.skipped.is_empty());
    assert_eq!(p.cut_children_of, vec![3]);
    assert!(p.reset_parent_of.is_empty(), "only removed modules name a removed parent");
  }

  #[test]
  fn a_boundary_keeps_what_it_requires_transitively_and_lists_the_direct_ones() {
    // since: 0 addon (boundary) -> 1 binding -> 2 util; 3 plain; 4 host (before) requires 3.
    let flags = [HOLDER | BOUNDARY, HOLDER, HOLDER, HOLDER, HOLDER];
    let p = restore(5, &[(0, 1), (1, 2), (4, 3)], &flags, &[-1, 0, 1, 4, -1], 4);
    assert_eq!(p.removed, vec![3]);
    assert_eq!(p.skipped, vec![0]);
    assert_eq!((p.kept, p.holders, p.holder_offsets), (vec![1], vec![0], vec![0, 1]));
    assert_eq!(p.cut_children_of, vec![4]);
  }

  #[test]
  fn a_survivor_whose_parent_goes_is_reset() {
    // since: 0 new -> 1 dep (kept by boundary 2, which requires it too); dep's parent is new.
    let flags = [HOLDER, HOLDER, HOLDER | BOUNDARY];
    let p = restore(3, &[(0, 1), (2, 1)], &flags, &[-1, 0, -1], 3);
    assert_eq!(p.removed, vec![0]);
    assert_eq!(p.reset_parent_of, vec![1]);
  }

  #[test]
  fn rejects_mismatched_inputs() {
    let (o, t) = csr(2, &[]);
    let g = Graph::new(&o, &t).unwrap();
    assert!(plan_restore(&g, &[0], &[-1, -1], 1).is_err());
    assert!(plan_restore(&g, &[0, 0], &[-1, -1], 3).is_err());
  }
}
