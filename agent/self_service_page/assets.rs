//! The page's files, built into the binary: the page works offline and nothing
//! it loads comes from anywhere but this server.

/// One file the page loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asset {
    /// Its path on the server (`/`, `/assets/page.css`).
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// Every file the server hands out, by path. A file added under
/// `agent/self_service_page/assets/` is served once it has a row here.
pub(crate) const ASSETS: &[Asset] = &[
    Asset { path: "/", content_type: "text/html; charset=utf-8", bytes: include_bytes!("assets/index.html") },
    Asset {
        path: "/assets/page.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/page.css"),
    },
    Asset {
        path: "/assets/page.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/page.js"),
    },
];

/// The file served at `path`, if there is one.
pub(crate) fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_what_it_links_are_served() {
        let page = std::str::from_utf8(asset("/").unwrap().bytes).unwrap();
        for linked in ["/assets/page.css", "/assets/page.js"] {
            assert!(page.contains(linked), "index.html links {linked}");
            assert!(asset(linked).is_some(), "{linked} is served");
        }
        assert_eq!(asset("/assets/missing.js"), None);
        assert_eq!(asset("/assets/../Cargo.toml"), None);
    }
}
