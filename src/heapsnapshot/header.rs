//! The `snapshot` header: where each field sits in a node, edge or location record, and the
//! names of the node and edge types. V8 versions differ in their field lists, so everything is
//! looked up by name here, once, and the rest of the code only uses the resulting offsets.

use super::error::{fail, SnapshotError};
use super::json;

/// Positions of the fields we use inside one node, edge or location record, read from `meta`.
#[derive(Debug, Clone)]
pub(super) struct Layout {
  pub(super) node_stride: usize,
  pub(super) node_type: usize,
  pub(super) node_name: usize,
  pub(super) node_id: usize,
  pub(super) node_edge_count: usize,
  /// `None` in hand-made snapshots without sizes: every node then counts 0 bytes.
  pub(super) node_self_size: Option<usize>,
  pub(super) edge_stride: usize,
  pub(super) edge_type: usize,
  pub(super) edge_name: usize,
  pub(super) edge_to: usize,
  /// `None` when the snapshot has no usable `location_fields`.
  pub(super) location: Option<LocationLayout>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct LocationLayout {
  pub(super) stride: usize,
  pub(super) object: usize,
  pub(super) script: usize,
  pub(super) line: usize,
  pub(super) column: usize,
}

/// What `snapshot.meta` (and the counts beside it) says.
#[derive(Debug, Clone)]
pub(super) struct Header {
  pub(super) layout: Layout,
  pub(super) node_types: Vec<String>,
  pub(super) edge_types: Vec<String>,
  pub(super) node_count: Option<u64>,
  pub(super) edge_count: Option<u64>,
}

fn string_list(value: Option<&json::Value>, what: &str) -> Result<Vec<String>, SnapshotError> {
  let items = match value.and_then(json::Value::as_array) {
    Some(items) => items,
    None => return fail(format!("snapshot.meta.{what} is missing: not a V8 heap snapshot")),
  };
  items
    .iter()
    .map(|v| v.as_str().map(str::to_owned))
    .collect::<Option<Vec<_>>>()
    .map_or_else(|| fail(format!("snapshot.meta.{what} must list strings")), Ok)
}

fn field(fields: &[String], name: &str, list: &str) -> Result<usize, SnapshotError> {
  match fields.iter().position(|f| f == name) {
    Some(i) => Ok(i),
    None => fail(format!("snapshot.meta.{list} has no `{name}` field: not a V8 heap snapshot")),
  }
}

/// The enum values of the `type` field: `types` runs parallel to `fields`, and the entry at the
/// position of `type` is the list of type names.
fn type_names(
  meta: &json::Value,
  types_key: &str,
  type_field: usize,
) -> Result<Vec<String>, SnapshotError> {
  let entry = meta.get(types_key).and_then(json::Value::as_array).and_then(|t| t.get(type_field));
  string_list(entry, &format!("{types_key}[{type_field}]"))
}

impl Header {
  pub(super) fn from_json(snapshot: &json::Value) -> Result<Header, SnapshotError> {
    let meta = match snapshot.get("meta") {
      Some(meta) => meta,
      None => return fail("snapshot.meta is missing: not a V8 heap snapshot"),
    };
    let node_fields = string_list(meta.get("node_fields"), "node_fields")?;
    let edge_fields = string_list(meta.get("edge_fields"), "edge_fields")?;
    if node_fields.len() > 256 || edge_fields.len() > 256 {
      return fail("snapshot.meta lists more than 256 node or edge fields: not a V8 heap snapshot");
    }
    let node_type = field(&node_fields, "type", "node_fields")?;
    let edge_type = field(&edge_fields, "type", "edge_fields")?;
    let layout = Layout {
      node_stride: node_fields.len(),
      node_type,
      node_name: field(&node_fields, "name", "node_fields")?,
      node_id: field(&node_fields, "id", "node_fields")?,
      node_edge_count: field(&node_fields, "edge_count", "node_fields")?,
      node_self_size: node_fields.iter().position(|f| f == "self_size"),
      edge_stride: edge_fields.len(),
      edge_type,
      edge_name: field(&edge_fields, "name_or_index", "edge_fields")?,
      edge_to: field(&edge_fields, "to_node", "edge_fields")?,
      location: Self::location_layout(meta),
    };
    Ok(Header {
      layout,
      node_types: type_names(meta, "node_types", node_type)?,
      edge_types: type_names(meta, "edge_types", edge_type)?,
      node_count: snapshot.get("node_count").and_then(json::Value::as_u64),
      edge_count: snapshot.get("edge_count").and_then(json::Value::as_u64),
    })
  }

  /// Locations only help with names, so a snapshot without `location_fields` (V8 before 2020)
  /// or with other fields is still usable: closures are then named without file and line.
  fn location_layout(meta: &json::Value) -> Option<LocationLayout> {
    let fields = string_list(meta.get("location_fields"), "location_fields").ok()?;
    let at = |name: &str| fields.iter().position(|f| f == name);
    Some(LocationLayout {
      stride: fields.len(),
      object: at("object_index")?,
      script: at("script_id")?,
      line: at("line")?,
      column: at("column")?,
    })
  }
}

#[cfg(test)]
mod tests {
  use crate::heapsnapshot::parse;
  use crate::heapsnapshot::tests::{explain, timer_world, Builder, EDGE_FIELDS, PLUGIN};

  #[test]
  fn field_lists_are_read_from_meta() {
    let (w, _, _) = timer_world();
    let expected = explain(&w.snapshot(), &[PLUGIN]);
    let layouts: [(&[&str], &[&str]); 3] = [
      (&["type", "name", "id", "self_size", "edge_count", "detachedness"], EDGE_FIELDS),
      (&["type", "name", "id", "self_size", "edge_count"], EDGE_FIELDS),
      (
        &["edge_count", "future_field", "id", "name", "type"],
        &["to_node", "type", "weight", "name_or_index"],
      ),
    ];
    for (node_fields, edge_fields) in layouts {
      let mut b = Builder::with_fields(node_fields, edge_fields);
      b.nodes = std::mem::take(&mut timer_world().0.b.nodes);
      b.locations = w.b.locations.clone();
      let s = parse(b.json().as_bytes()).unwrap();
      assert_eq!(explain(&s, &[PLUGIN]), expected, "{node_fields:?} / {edge_fields:?}");
    }
  }

  #[test]
  fn missing_meta_fields_are_named() {
    let text = Builder::new().json();
    for (from, to, message) in [
      ("\"edge_count\",", "\"edges\",", "node_fields has no `edge_count` field"),
      ("\"to_node\"", "\"target\"", "edge_fields has no `to_node` field"),
      ("\"node_fields\"", "\"fields\"", "snapshot.meta.node_fields is missing"),
      ("\"meta\"", "\"about\"", "snapshot.meta is missing"),
      ("\"strings\"", "\"strings2\"", "no `strings` section"),
    ] {
      let error = parse(text.replacen(from, to, 1).as_bytes()).unwrap_err();
      assert!(error.0.contains(message), "{from}: {error}");
    }
  }
}
