//! The one error type every handler returns: a status and a message, sent as
//! `{"error": "..."}` so an agent can log the tenant's own words.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An HTTP error reply with a JSON body `{error}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A storage failure: logged on stderr, reported as a 500 the agent retries.
    pub(crate) fn storage(error: rusqlite::Error) -> Self {
        eprintln!("storage error: {error}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {error}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

/// Parses a JSON body, turning any mistake into a 400 that says what was wrong.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::bad_request(format!("malformed JSON body: {error}")))
}
