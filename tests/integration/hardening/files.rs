//! No symlink followed on the way to a file the agent writes; safe modes for archives, managed files and app bundles.
