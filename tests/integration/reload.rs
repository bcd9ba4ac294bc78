//! Live reload through the watched config directory.
