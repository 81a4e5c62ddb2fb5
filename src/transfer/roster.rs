//! Roster's own NDJSON: one JSON object per line, each with its `type`.

use std::io::BufRead;

use super::{Line, ReadError, ReadOptions};

pub(super) fn read(
    _input: &mut dyn BufRead,
    _options: &ReadOptions,
    _emit: &mut dyn FnMut(Line) -> bool,
) -> Result<(), ReadError> {
    Err(ReadError::Format("this format is not read yet".into()))
}
