//! Restarts of the real daemon process.
