//! (filled in by the slice that owns it)
fn main() {}
