//! Retainer chains in words: nodes and edges described the way a person would look for them
//! in their code (closures with file, line and column), and [`HeapSnapshot::explain_retainers`],
//! which puts module instances, paths and wording together. Apart because it is presentation:
//! the searches do not depend on it.

use super::modules::ModuleInstance;
use super::snapshot::HeapSnapshot;
use std::borrow::Cow;

/// One link of a retainer chain: `node` holds the next link through `edge` (the last link is the
/// module itself, with an empty `edge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
  pub node: String,
  pub edge: String,
}

/// Why the module `id` is still in memory: the chain of references from a GC root to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retainer {
  pub id: String,
  pub path: Vec<Step>,
}

/// Names and values quoted in a path are cut to this many characters.
const MAX_LABEL: usize = 120;

fn shorten(text: &str) -> Cow<'_, str> {
  match text.char_indices().nth(MAX_LABEL) {
    Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    None => Cow::Borrowed(text),
  }
}

fn lossy(bytes: &[u8]) -> Cow<'_, str> {
  String::from_utf8_lossy(bytes)
}

/// Where a closure's code starts (0-based, as V8 records it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Location {
  script: u32,
  line: u32,
  column: u32,
}

impl HeapSnapshot {
  fn location(&self, node: u32) -> Option<Location> {
    let l = self.layout.location?;
    let offset = node.checked_mul(self.layout.node_stride as u32)?;
    let index = self.location_index.get_or_init(|| {
      let mut index: Vec<(u32, u32)> = (self.locations.chunks_exact(l.stride).enumerate())
        .map(|(i, r)| (r[l.object], i as u32))
        .collect();
      // Stable: the first record of an object wins, as a linear scan would find it.
      index.sort_by_key(|&(object, _)| object);
      index
    });
    let at = index.partition_point(|&(object, _)| object < offset);
    let &(object, i) = index.get(at)?;
    if object != offset {
      return None;
    }
    let record = &self.locations[i as usize * l.stride..][..l.stride];
    Some(Location { script: record[l.script], line: record[l.line], column: record[l.column] })
  }

  /// A closure's script name: closure → `shared` (SharedFunctionInfo) → `script` (called
  /// `script_or_debug_info` before V8 12) → the Script, which V8 names after its file or URL.
  fn closure_script_name(&self, closure: u32) -> Option<String> {
    let internal = self.edge_kinds.internal;
    let shared = self.child(closure, internal, b"shared")?;
    let script = self
      .child(shared, internal, b"script")
      .or_else(|| self.child(shared, internal, b"script_or_debug_info"))?;
    let name = match self.node_name(script) {
      b"" => self.string_property(script, b"name").or_else(|| {
        let n = self.child(script, internal, b"name")?;
        self.string_value(n)
      })?,
      named => Cow::Borrowed(named),
    };
    (!name.is_empty()).then(|| lossy(&name).into_owned())
  }

  /// The name of script `script_id`, from any located closure of that script, else the id.
  fn script_name(&self, closure: u32, script_id: u32) -> String {
    if let Some(name) = self.closure_script_name(closure) {
      return name;
    }
    let (Some(l), stride) = (self.layout.location, self.layout.node_stride as u32) else {
      return format!("script #{script_id}");
    };
    self
      .locations
      .chunks_exact(l.stride)
      .filter(|r| r[l.script] == script_id && r[l.object] % stride == 0)
      .find_map(|r| self.closure_script_name(r[l.object] / stride))
      .unwrap_or_else(|| format!("script #{script_id}"))
  }

  /// `(closure onTick in /app/plugin.js:12:5)`, `(anonymous closure in ...)`, `(closure f)`;
  /// `state` goes before `closure` (`suspended` for a paused generator or async function).
  fn describe_closure(&self, node: u32, state: &str) -> String {
    let name = lossy(self.node_name(node));
    let what = match name.as_ref() {
      "" => format!("{state}anonymous closure"),
      _ => format!("{state}closure {}", shorten(&name)),
    };
    match self.location(node) {
      Some(at) => {
        let script = self.script_name(node, at.script);
        format!("({what} in {script}:{}:{})", at.line + 1, at.column + 1)
      }
      None => format!("({what})"),
    }
  }

  /// A node in words: what a person would look for in their code.
  pub fn describe_node(&self, node: u32) -> String {
    let k = self.node_kinds;
    if self.is(node, k.string) || self.is(node, k.cons_string) || self.is(node, k.sliced_string) {
      let text = match self.string_value(node) {
        Some(value) => lossy(&value).into_owned(),
        None => lossy(self.node_name(node)).into_owned(),
      };
      return format!("{:?}", shorten(&text));
    }
    if self.is(node, k.closure) {
      return self.describe_closure(node, "");
    }
    let full = lossy(self.node_name(node));
    // With a session, V8 asks the inspector for a global object's URL and appends it:
    // `global / <url>`, `system / NativeContext / <url>`; in Node the URL is empty. Without one
    // (`v8.writeHeapSnapshot()`) the names are bare: one name for both.
    let name = full.strip_suffix(" / ").unwrap_or(&full);
    if self.is(node, k.object) {
      return match name {
        "Module" => self.describe_module(node),
        "system / Context" => "(closure scope)".to_string(),
        // An async function paused at `await` (or a generator at `yield`) keeps its locals in
        // its generator object: name the function, which is what a person can find.
        "Generator" | "AsyncGenerator" => {
          match self.child(node, self.edge_kinds.internal, b"function") {
            Some(function) => self.describe_closure(function, "suspended "),
            None => name.to_string(),
          }
        }
        "" => "(object)".to_string(),
        _ => shorten(name).into_owned(),
      };
    }
    match name {
      "" if self.is(node, k.synthetic) => "(root)".to_string(),
      "" if self.is(node, k.array) => "(internal array)".to_string(),
      "" => format!("({})", self.node_type_name(node)),
      _ if self.is(node, k.regexp) => format!("/{}/", shorten(name)),
      _ => shorten(name).into_owned(),
    }
  }

  fn describe_module(&self, node: u32) -> String {
    match self.string_property(node, b"filename").or_else(|| self.string_property(node, b"id")) {
      Some(file) => format!("Module {}", lossy(&file)),
      None => "Module".to_string(),
    }
  }

  /// An edge in words: the property, variable or internal field name, or `[index]`.
  pub fn describe_edge(&self, edge: u32) -> String {
    match self.edge_name(edge) {
      None => format!("[{}]", self.edge_field(edge, self.layout.edge_name)),
      Some(name) if !name.is_empty() && name.iter().all(u8::is_ascii_digit) => {
        format!("[{}]", lossy(name))
      }
      Some(name) => shorten(&lossy(name)).into_owned(),
    }
  }

  /// The path `edges` (root first) as steps; the nameless root itself is left out, so a path
  /// starts at a root category such as `(GC roots)` or at a global object.
  pub fn render_path(&self, edges: &[u32], target: u32) -> Vec<Step> {
    let mut steps = Vec::with_capacity(edges.len() + 1);
    for &edge in edges {
      let holder = self.edge_owner(edge);
      if holder == 0 {
        continue;
      }
      steps.push(Step { node: self.describe_node(holder), edge: self.describe_edge(edge) });
    }
    steps.push(Step { node: self.describe_node(target), edge: String::new() });
    steps
  }

  /// For each old generation of the modules `ids` (a `Module` object with that id that is not
  /// `Module._cache[id]`) still reachable along strong references: the shortest chain from a GC
  /// root, in words. Modules with no such instance (collected, or only the live one) are left
  /// out. Ordered as `ids`, then by position in the heap.
  pub fn explain_retainers(&self, ids: &[&str]) -> Vec<Retainer> {
    let mut old: Vec<ModuleInstance> =
      self.module_instances(ids).into_iter().filter(|m| !m.live).collect();
    old.sort_by_key(|m| (m.id, m.node));
    let targets: Vec<u32> = old.iter().map(|m| m.node).collect();
    let tree = self.shortest_paths(&targets);
    old
      .iter()
      .filter_map(|m| {
        let edges = self.path_edges(&tree, m.node)?;
        Some(Retainer { id: ids[m.id].to_string(), path: self.render_path(&edges, m.node) })
      })
      .collect()
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::heapsnapshot::tests::{explain, steps, timer_world, World, PLUGIN};

  #[test]
  fn explains_an_old_generation_held_by_a_timer() {
    let (w, live, old) = timer_world();
    let s = w.snapshot();
    let instances = s.module_instances(&[PLUGIN]);
    assert_eq!(
      instances,
      [
        ModuleInstance { node: live as u32, id: 0, live: true },
        ModuleInstance { node: old as u32, id: 0, live: false }
      ]
    );
    let expected = steps(&[
      ("global", "clearInterval"),
      ("(closure clearInterval)", "context"),
      ("(closure scope)", "timerListMap"),
      ("Object", "[60000]"),
      ("TimersList", "_idlePrev"),
      ("Timeout", "_onTimeout"),
      ("(closure onTick in /app/plugin.js:12:5)", "context"),
      ("(closure scope)", "module"),
      ("Module /app/plugin.js", ""),
    ]);
    assert_eq!(explain(&s, &[PLUGIN]), [Retainer { id: PLUGIN.into(), path: expected }]);
  }

  #[test]
  fn closures_are_named_with_file_line_and_column() {
    let (mut w, _, _) = timer_world();
    let anonymous = w.b.node("closure", "");
    w.b.location(anonymous, 7, 0, 0);
    let unlocated = w.b.node("closure", "helper");
    let old_v8 = w.b.node("closure", "legacy");
    let shared = w.b.node("code", "legacy");
    let script = w.b.node("code", "");
    let script_name = w.b.node("string", "node:internal/timers");
    w.b.edge(old_v8, "internal", "shared", shared);
    w.b.edge(shared, "internal", "script_or_debug_info", script);
    w.b.edge(script, "internal", "name", script_name);
    w.b.location(old_v8, 3, 99, 0);
    let nameless_script = w.b.node("closure", "lost");
    w.b.location(nameless_script, 42, 1, 2);
    let paused = w.b.node("object", "Generator");
    w.b.edge(paused, "internal", "function", anonymous);
    let s = w.snapshot();
    assert_eq!(s.describe_node(anonymous as u32), "(anonymous closure in /app/plugin.js:1:1)");
    assert_eq!(
      s.describe_node(paused as u32),
      "(suspended anonymous closure in /app/plugin.js:1:1)"
    );
    assert_eq!(s.describe_node(unlocated as u32), "(closure helper)");
    assert_eq!(s.describe_node(old_v8 as u32), "(closure legacy in node:internal/timers:100:1)");
    assert_eq!(s.describe_node(nameless_script as u32), "(closure lost in script #42:2:3)");
  }

  #[test]
  fn nodes_and_edges_read_as_code() {
    let mut w = World::new();
    let text = w.b.node("string", "line\nbreak \"quoted\"");
    let long = w.b.node("string", &"x".repeat(500));
    let re = w.b.node("regexp", "^a+$");
    let arr = w.b.node("array", "");
    let named_arr = w.b.node("array", "(object elements)");
    let code = w.b.node("code", "");
    let obj = w.b.node("object", "");
    let inspector_global = w.b.node("object", "global / ");
    let inspector_context = w.b.node("hidden", "system / NativeContext / ");
    let string_with_slash = w.b.node("string", "a / ");
    w.b.edge(w.global, "property", "7", text);
    w.b.edge(w.global, "property", "", obj);
    w.b.edge(w.global, "internal", "<symbol node:module_last_parent>", obj);
    let s = w.snapshot();
    assert_eq!(s.describe_node(text as u32), r#""line\nbreak \"quoted\"""#);
    assert_eq!(s.describe_node(long as u32).chars().count(), MAX_LABEL + 3);
    assert_eq!(s.describe_node(re as u32), "/^a+$/");
    assert_eq!(s.describe_node(arr as u32), "(internal array)");
    assert_eq!(s.describe_node(named_arr as u32), "(object elements)");
    assert_eq!(s.describe_node(code as u32), "(code)");
    assert_eq!(s.describe_node(obj as u32), "(object)");
    assert_eq!(s.describe_node(inspector_global as u32), "global");
    assert_eq!(s.describe_node(inspector_context as u32), "system / NativeContext");
    assert_eq!(
      s.describe_node(string_with_slash as u32),
      r#""a / ""#,
      "string contents are kept as they are"
    );
    assert_eq!(s.describe_node(0), "(root)");
    assert_eq!(s.describe_node(w.gc_roots as u32), "(GC roots)");
    let edges: Vec<String> = s.edges_of(w.global as u32).map(|e| s.describe_edge(e)).collect();
    assert_eq!(edges[edges.len() - 3..], ["[7]", "", "<symbol node:module_last_parent>"]);
  }
}
