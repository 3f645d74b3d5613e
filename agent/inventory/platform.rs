//! Where the agent runs, which decides the inventory collectors that apply.

/// Where the agent runs, which decides the collectors that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// macOS: every macOS tool must be there.
    Mac,
    /// Anything else (Linux): Linux facts, and macOS tools only where they exist.
    Other,
}

impl Platform {
    /// The platform this agent was built for.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") { Self::Mac } else { Self::Other }
    }
}
