//! One long-poll of the command channel: `GET /api/v1/agent/commands?wait=S`,
//! which the tenant holds until a command is queued for this device (`200
//! {commands}`) or `S` seconds pass (`204`); `404` means it does not offer the
//! channel.
//!
//! The request carries the token the device holds now (read from the token file
//! before each poll, so a rotation a check-in stored is used at once). It takes
//! no rotation from the reply and never forgets a token on a `401`: rotating and
//! re-enrolling are the check-in's, and a poll racing a rotation must not undo it.

use std::sync::PoisonError;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use super::client::{TenantClient, TenantError, read_body, refusal, send_with};
use super::credential::Credential;
use super::protocol::Command;
use crate::structured_input::{self, InputKind};

/// The path of the command channel.
const COMMANDS_PATH: &str = "/api/v1/agent/commands";

/// What one long-poll gave.
#[derive(Debug)]
pub(crate) enum PollReply {
    /// `200`: commands queued for this device.
    Commands(Vec<Command>),
    /// `204`: nothing was queued while the tenant held the request.
    NothingYet,
    /// `404`: the tenant does not offer the channel.
    NotOffered,
}

/// The body of a `200`.
#[derive(Debug, Deserialize)]
struct CommandsReply {
    #[serde(default)]
    commands: Vec<Command>,
}

impl TenantClient {
    /// Reads the device's token afresh (the token file, else `tenant.token`), as
    /// a check-in may have rotated or re-issued it since this client was built.
    pub(crate) fn refresh_credential(&self) {
        let fresh = Credential::choose(&self.paths, self.credential().configured);
        *self.credential.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
    }

    /// Asks the tenant to hold the request for at most `wait` until a command is
    /// queued for `device_id`. The request may take `wait` plus
    /// `tenant.request_timeout` in all.
    pub(crate) async fn poll_commands(&self, device_id: &str, wait: Duration) -> Result<PollReply, TenantError> {
        let request = self
            .http
            .get(self.url(COMMANDS_PATH))
            .query(&[("wait", wait.as_secs().to_string().as_str()), ("device_id", device_id)])
            .header("X-Device-Id", device_id)
            .timeout(wait + self.request_timeout);
        let response = send_with(request, self.credential().in_use.as_ref()).await?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(PollReply::NothingYet),
            StatusCode::NOT_FOUND => Ok(PollReply::NotOffered),
            StatusCode::UNAUTHORIZED => Err(TenantError::Unauthorized),
            status if status.is_success() => {
                let bytes = read_body(response, InputKind::TenantReply).await?;
                let reply: CommandsReply =
                    structured_input::parse_json(&bytes, "the tenant's command channel reply", InputKind::TenantReply)
                        .map_err(|error| TenantError::Garbage { reason: error.to_string() })?;
                Ok(PollReply::Commands(reply.commands))
            }
            _ => Err(refusal(response).await),
        }
    }
}
