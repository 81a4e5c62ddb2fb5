//! Placeholder: the csv reader is being written on its own branch.

use std::io::BufRead;

use super::{Line, ReadError, ReadOptions};

pub(super) fn read(
    _input: &mut dyn BufRead,
    _options: &ReadOptions,
    _emit: &mut dyn FnMut(Line) -> bool,
) -> Result<(), ReadError> {
    Err(ReadError::Format("this format is not read yet".into()))
}
