//! A saved blueprint that no longer parses is treated as absent, and a self-update is
//! installed only when the new binary says so.
