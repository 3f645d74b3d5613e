//! Why a tool's output could not be read: one error type for every parser.

/// A tool printed something its parser cannot read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParseError {
    /// No XML property list in the output.
    #[error("{tool} printed no property list")]
    NoPropertyList {
        /// The tool, as people call it: `system_profiler -xml`.
        tool: &'static str,
    },
    /// The property list is malformed, or over the limits of `structured_input`.
    #[error("{tool} printed a property list that cannot be read: {}", source.problem)]
    PropertyList {
        /// The tool.
        tool: &'static str,
        /// Why.
        #[source]
        source: crate::structured_input::StructuredInputError,
    },
    /// The output reads, but not as the tool's documented layout.
    #[error("{tool} printed {problem}")]
    Layout {
        /// The tool.
        tool: &'static str,
        /// What is wrong, as a fragment: `no SPHardwareDataType report`.
        problem: String,
    },
}

/// Reads the XML property list in `output` (log lines around it are ignored).
pub(crate) fn read_plist(tool: &'static str, output: &str) -> Result<plist::Value, ParseError> {
    let document = super::tool::plist_document(output).ok_or(ParseError::NoPropertyList { tool })?;
    let kind = crate::structured_input::InputKind::ToolOutput;
    crate::structured_input::parse_plist(document.as_bytes(), tool, kind)
        .map_err(|source| ParseError::PropertyList { tool, source })
}
