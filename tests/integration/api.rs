//! The HTTP API of a daemon started in-process on port 0.
