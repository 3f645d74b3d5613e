//! Every run reaches the tenant exactly once, a crashed or twice-stopped one included.
