//! Errors: [`SnapshotError`], what callers get, and `Fault`, a syntax error at a byte offset
//! within one chunk, which the tokenizer pieces return and the parser turns into a
//! `SnapshotError` with the position in the whole text. Apart because every other module
//! reports through them.

/// Why a snapshot could not be parsed or is not a V8 heap snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError(pub String);

impl std::fmt::Display for SnapshotError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(&self.0)
  }
}

impl std::error::Error for SnapshotError {}

pub(super) fn fail<T>(message: impl Into<String>) -> Result<T, SnapshotError> {
  Err(SnapshotError(message.into()))
}

/// A syntax error `at` bytes into the slice being fed; the parser adds where that slice began.
#[derive(Debug)]
pub(super) struct Fault {
  pub(super) at: usize,
  pub(super) message: String,
}

pub(super) fn fault<T>(at: usize, message: impl Into<String>) -> Result<T, Fault> {
  Err(Fault { at, message: message.into() })
}

/// What feeding a slice to a piece of the document gives: `Some(n)` when the piece ended after
/// `n` bytes of the slice, `None` when it goes on in the next slice.
pub(super) type Feed = Result<Option<usize>, Fault>;

pub(super) fn printable(b: u8) -> String {
  if b.is_ascii_graphic() {
    format!("'{}'", b as char)
  } else {
    format!("byte 0x{b:02x}")
  }
}
