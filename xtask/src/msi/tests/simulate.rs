//! simulate tests.
