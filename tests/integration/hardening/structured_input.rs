//! Depth and size limits on every structured input, duplicate keys and hostile item ids.
