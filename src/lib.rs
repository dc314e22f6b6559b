//! The N-API binding: typed arrays in, typed arrays out. Every algorithm lives in a plain Rust
//! module beside this one (no N-API types there) and is unit-tested with `cargo test`; this file
//! only converts arguments and results. See ARCHITECTURE.md.

pub mod graph;

use napi::bindgen_prelude::{Int32Array, Uint32Array, Uint8Array};
use napi::{Error, Result, Status};
use napi_derive::napi;

fn invalid(e: impl std::fmt::Display) -> Error {
  Error::new(Status::InvalidArg, e.to_string())
}

/// The unload plan, as indices into the flattened graph (see `graph::Plan`).
#[napi(object)]
pub struct UnloadPlan {
  pub removed: Uint32Array,
  pub kept: Uint32Array,
  pub holder_offsets: Uint32Array,
  pub holders: Uint32Array,
  pub skipped: Uint32Array,
  pub cut_children_of: Uint32Array,
  pub reset_parent_of: Uint32Array,
}

/// Members of the `children` trees of `roots` (roots first), not entering boundary nodes.
#[napi]
pub fn forward_closure(
  offsets: &[i32],
  targets: &[i32],
  flags: &[u8],
  roots: &[u32],
) -> Result<Uint32Array> {
  let g = graph::Graph::new(offsets, targets).map_err(invalid)?;
  let (members, _) = graph::forward_closure(&g, flags, roots).map_err(invalid)?;
  Ok(members.into())
}

/// Computes what `uncacheTree` removes, keeps and cuts, before anything is changed.
#[napi]
pub fn plan_unload(
  offsets: &[i32],
  targets: &[i32],
  flags: &[u8],
  parent: &[i32],
  roots: &[u32],
  remove_shared: bool,
) -> Result<UnloadPlan> {
  let g = graph::Graph::new(offsets, targets).map_err(invalid)?;
  let shared = if remove_shared { graph::Shared::Remove } else { graph::Shared::Keep };
  let p = graph::plan_unload(&g, flags, parent, roots, shared).map_err(invalid)?;
  Ok(UnloadPlan {
    removed: p.removed.into(),
    kept: p.kept.into(),
    holder_offsets: p.holder_offsets.into(),
    holders: p.holders.into(),
    skipped: p.skipped.into(),
    cut_children_of: p.cut_children_of.into(),
    reset_parent_of: p.reset_parent_of.into(),
  })
}
