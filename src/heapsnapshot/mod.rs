//! V8 heap snapshots and the retainer paths of module objects, in plain Rust (no N-API types).
//!
//! A `.heapsnapshot` (what `v8.writeHeapSnapshot()` and the inspector's
//! `HeapProfiler.takeHeapSnapshot` write) is one JSON object:
//!
//! ```text
//! {"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count",...],
//!                      "node_types":[["hidden","array","string","object",...],"string",...],
//!                      "edge_fields":["type","name_or_index","to_node"],
//!                      "edge_types":[["context","element","property","internal",...],...],
//!                      "location_fields":["object_index","script_id","line","column"],...},
//!              "node_count":N,"edge_count":M,...},
//!  "nodes":[N × node_fields numbers], "edges":[M × edge_fields numbers],
//!  "locations":[...], "strings":["<dummy>","(GC roots)",...], ...sections we skip...}
//! ```
//!
//! Node `i`'s edges follow node `i - 1`'s in `edges` (`edge_count` says how many); `to_node` is an
//! offset into `nodes`; `name` and most edge names index `strings`; `element` and `hidden` edges
//! carry an index instead. The field lists differ between V8 versions (`trace_node_id` and
//! `detachedness` come and go), so every offset is looked up by name in `meta`.
//!
//! [`Parser`] is fed the text in chunks of any size and never holds it whole: the big number
//! arrays go straight into flat `Vec<u32>`s, the strings into one byte buffer, and only the small
//! `snapshot` header is kept as text until it is complete. The analysis adds three `u32` per node
//! (first edge, BFS parent, BFS queue). Peak memory is about the size of the text: 1.1× for a
//! 200 MB snapshot (`benchmark/heapsnapshot.js` measures it).
//!
//! [`HeapSnapshot::explain_retainers`] finds the `Module` objects of the given ids, tells the live
//! one (the value of `Module._cache[id]`) from older generations, and for each old generation that
//! is still in the heap gives the shortest chain of strong references from a GC root, in words.
//!
//! The pieces, in the order the text flows through them: `tokenizer` (JSON values cut across
//! chunks), `json` and `header` (the `snapshot` header), `parser` (the document), `snapshot`
//! (the checked arrays), `modules` (which `Module` objects), `paths` (shortest strong chains),
//! `explain` (chains in words); `diff` compares three snapshots; `error` is shared by all.

mod diff;
mod error;
mod explain;
mod header;
mod json;
mod modules;
mod parser;
mod paths;
mod snapshot;
mod tokenizer;

pub use diff::{new_ids, Growth, GrowthGroup, LeakDiff};
pub use error::SnapshotError;
pub use explain::{Retainer, Step};
pub use modules::ModuleInstance;
pub use parser::Parser;
pub use paths::PathTree;
pub use snapshot::HeapSnapshot;
pub use tokenizer::StringTable;

/// Parses a whole snapshot held in memory (tests and tools; the binding streams).
pub fn parse(text: &[u8]) -> Result<HeapSnapshot, SnapshotError> {
  let mut parser = Parser::new();
  parser.push(text)?;
  parser.finish()
}

#[cfg(test)]
pub(crate) mod tests;
