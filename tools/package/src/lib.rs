//! Builds Endpoint Agent's installer package, a flat `.pkg`, on any Unix without
//! Apple's tools, and reads it back to prove it well formed.
//!
//! ```text
//! agent binary ──────────┐
//! launchd/*.plist ───────┤
//! pkg/uninstall.sh ──────┼─> tree.rs (paths, modes, owners) ─┬─> cpio.rs  Payload (gzipped odc)
//! pkg/self-service-app/* ┘   app.rs: the Self Service app    └─> bom.rs   Bom (cksum.rs CRCs)
//! pkg/scripts/* ─────> tree.rs ────────────────────────────────> cpio.rs  Scripts
//! pkg/Distribution, pkg/PackageInfo ─> templates.rs (version, sizes, counts)
//!                      product.rs puts the parts together ─> xar.rs  endpoint-agent-X.Y.Z.pkg
//! pin.rs: with --self-update-team-id, config.d/00-package.plist pinning self_update.team_id
//! verify.rs: bsdtar (XAR checksums, cpio listing) + apple-bom + XML and plist parsers
//! ```
//!
//! `scripts/package.sh` is the entry point; on a Mac with `pkgbuild` and
//! `productbuild` it can use those instead.

pub mod app;
pub mod bom;
mod cksum;
pub mod cpio;
pub mod pin;
pub mod product;
pub mod templates;
pub mod tree;
pub mod verify;
pub mod xar;
