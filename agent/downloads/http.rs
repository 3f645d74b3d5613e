//! The HTTP(S) transfer: one client per download, a `Range` request when a
//! partial file is there, and the body streamed to disk.
//!
//! TLS is always verified (the system's on a Mac, rustls with the Mozilla roots
//! elsewhere), with `tenant.ca_file`'s anchors beside them (a tenant with its own
//! CA may serve its packages; its pins are the tenant client's alone). Redirects are followed only to URLs the agent would fetch in the
//! first place, so an `https://` link cannot be bounced to plain `http://`; plain
//! `http://` (loopback only) never goes through a proxy ([`crate::network_rules`]).
//! Connecting and every read have their own timeouts, each window of
//! `downloads.min_rate_window` must bring `downloads.min_rate`, and the item's
//! deadline and the agent's shutdown bound the whole transfer. The body is held
//! to its `Content-Length`, `downloads.max_size` and `downloads.min_free_space`.

use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{StatusCode, Url};
use tokio::time::Instant;

use super::bounds::{Downloader, cache_error};
use super::error::DownloadError;
use super::partial::PartialFile;
use crate::blueprint::DownloadUrl;
use crate::config::TrustedWriters;
use crate::error_chain::with_causes;
use crate::network_rules::{self, is_allowed_http};
use crate::tenant_trust::TenantTrust;

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the server may stay silent in the middle of a transfer.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How many redirects are followed.
const MAX_REDIRECTS: usize = 10;

/// Transfers `url` into `partial`, continuing what it holds when the server
/// honours the range. Returns the offset it resumed at, if it did.
pub(super) async fn download(
    downloader: &Downloader<'_>,
    url: &Url,
    partial: &mut PartialFile,
) -> Result<Option<u64>, DownloadError> {
    let shown = DownloadUrl::Http(url.clone());
    let unusable =
        |problem| DownloadError::Request { url: shown.redacted(), reason: format!("tenant.ca_file: {problem}") };
    let writers = TrustedWriters::for_root(downloader.root);
    let ca = downloader.ca_file.as_deref().map(|path| writers.read_ca_file(path)).transpose().map_err(unusable)?;
    let trust = TenantTrust::new(ca.as_ref(), &[]).map_err(unusable)?;
    let client = client(&trust).map_err(request_error(&shown))?;
    // One try with the range, and one from the start if the server refuses it.
    for _ in 0..2 {
        let offset = partial.len();
        let response = send(downloader, &client, url, offset, &shown).await?;
        let resumed = resumes_at(&response, offset);
        if offset > 0 && !resumed && start_over(downloader, response.status(), partial).await? {
            continue;
        }
        check_answer(downloader, &response, partial, &shown)?;
        stream_body(downloader, response, partial, &shown).await?;
        return Ok(resumed.then_some(offset));
    }
    Err(DownloadError::Request {
        url: shown.redacted(),
        reason: "the server refused the range request and the full file".to_string(),
    })
}

/// Asks for `url` from byte `offset` on (a `Range` request when `offset` is not
/// 0); the answer must start within one window of `downloads.min_rate_window`.
async fn send(
    downloader: &Downloader<'_>,
    client: &reqwest::Client,
    url: &Url,
    offset: u64,
    shown: &DownloadUrl,
) -> Result<reqwest::Response, DownloadError> {
    let mut request = client.get(url.clone());
    if offset > 0 {
        request = request.header(RANGE, format!("bytes={offset}-"));
    }
    // An answer that does not start within a window brought nothing in it.
    let answer = RateWindow::start(downloader);
    let Ok(sent) = tokio::time::timeout_at(answer.end, downloader.bounded(request.send())).await else {
        return Err(answer.too_slow(downloader, shown));
    };
    match sent {
        Ok(response) => response.map_err(request_error(shown)),
        Err(stopped) => Err(downloader.stopped(stopped, shown, offset)),
    }
}

/// Whether `response` continues the partial file at `offset`: a 206 whose
/// `Content-Range` starts there.
fn resumes_at(response: &reqwest::Response, offset: u64) -> bool {
    offset > 0
        && response.status() == StatusCode::PARTIAL_CONTENT
        && response.headers().get(CONTENT_RANGE).and_then(|value| value.to_str().ok()).and_then(range_start)
            == Some(offset)
}

/// For an answer with `status` that does not continue the partial file: when the
/// server sends the whole file (200) or cannot serve this range (416, or a 206
/// starting elsewhere), the partial file starts over. Returns whether to ask again
/// from the start (the range was refused). Any other answer is an error for
/// [`check_answer`], and the partial file waits for a later try.
async fn start_over(
    downloader: &Downloader<'_>,
    status: StatusCode,
    partial: &mut PartialFile,
) -> Result<bool, DownloadError> {
    let range_refused = status == StatusCode::RANGE_NOT_SATISFIABLE || status == StatusCode::PARTIAL_CONTENT;
    if range_refused || status.is_success() {
        partial.restart().await.map_err(cache_error(downloader.cache_dir))?;
    }
    Ok(range_refused)
}

/// Fails on an answer that is not a success, or whose announced length would take
/// the file over `downloads.max_size` or the disk below `downloads.min_free_space`.
fn check_answer(
    downloader: &Downloader<'_>,
    response: &reqwest::Response,
    partial: &PartialFile,
    shown: &DownloadUrl,
) -> Result<(), DownloadError> {
    let status = response.status();
    if !status.is_success() {
        return Err(DownloadError::Status { url: shown.redacted(), status: status.as_u16() });
    }
    if let Some(announced) = response.content_length()
        && partial.len().saturating_add(announced) > downloader.max_size
    {
        let limit = downloader.max_size;
        let announced = format!(" (the server announced {} bytes)", partial.len().saturating_add(announced));
        return Err(DownloadError::TooLarge { url: shown.redacted(), limit, announced });
    }
    downloader.check_room(partial, response.content_length().unwrap_or(0), shown)
}

/// The error for a request that failed, naming `shown` (its secrets hidden).
fn request_error(shown: &DownloadUrl) -> impl Fn(reqwest::Error) -> DownloadError + '_ {
    |error| DownloadError::Request { url: shown.redacted(), reason: with_causes(&error.without_url()) }
}

/// Writes the body into `partial` chunk by chunk; on a stop (deadline, shutdown,
/// dropped connection) what arrived is kept, on a broken limit it is not (see
/// [`DownloadError::discards_partial`]).
async fn stream_body(
    downloader: &Downloader<'_>,
    mut response: reqwest::Response,
    partial: &mut PartialFile,
    shown: &DownloadUrl,
) -> Result<(), DownloadError> {
    let announced = response.content_length();
    let mut received: u64 = 0;
    let mut window = RateWindow::start(downloader);
    loop {
        let Ok(next) = tokio::time::timeout_at(window.end, downloader.bounded(response.chunk())).await else {
            window.roll(downloader, shown)?;
            continue;
        };
        let stop = match next {
            Ok(Ok(Some(bytes))) => {
                received += bytes.len() as u64;
                window.received += bytes.len() as u64;
                if let Some(announced) = announced.filter(|announced| received > *announced) {
                    return Err(DownloadError::LongerThanAnnounced { url: shown.redacted(), announced });
                }
                downloader.check_size(partial.len() + bytes.len() as u64, shown)?;
                downloader.check_room(partial, bytes.len() as u64, shown)?;
                partial.append(&bytes).await.map_err(cache_error(downloader.cache_dir))?;
                if Instant::now() >= window.end {
                    window.roll(downloader, shown)?;
                }
                continue;
            }
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(error)) => DownloadError::Interrupted {
                url: shown.redacted(),
                received: partial.len(),
                reason: with_causes(&error.without_url()),
            },
            Err(stopped) => downloader.stopped(stopped, shown, partial.len()),
        };
        partial.persist().await.map_err(cache_error(downloader.cache_dir))?;
        return Err(stop);
    }
}

/// The bytes received in the current window of `downloads.min_rate_window`.
struct RateWindow {
    end: Instant,
    received: u64,
}

impl RateWindow {
    fn start(downloader: &Downloader<'_>) -> Self {
        Self { end: Instant::now() + downloader.min_rate_window, received: 0 }
    }

    /// At the window's end: fails when it fell short of `downloads.min_rate`, else
    /// starts the next window.
    fn roll(&mut self, downloader: &Downloader<'_>, shown: &DownloadUrl) -> Result<(), DownloadError> {
        let length = downloader.min_rate_window;
        let needed = u128::from(downloader.min_rate).saturating_mul(length.as_millis()) / 1000;
        if u128::from(self.received) < needed {
            return Err(self.too_slow(downloader, shown));
        }
        *self = Self::start(downloader);
        Ok(())
    }

    /// The error for a window that fell short.
    fn too_slow(&self, downloader: &Downloader<'_>, shown: &DownloadUrl) -> DownloadError {
        DownloadError::TooSlow {
            url: shown.redacted(),
            received: self.received,
            window: crate::config::duration_text(downloader.min_rate_window),
            min_rate: downloader.min_rate,
        }
    }
}

/// A client with the agent's User-Agent, timeouts and redirect rule, trusting
/// `trust`'s anchors (`tenant.ca_file`) beside the system's.
fn client(trust: &TenantTrust) -> reqwest::Result<reqwest::Client> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if is_allowed_http(attempt.url()) {
            attempt.follow()
        } else {
            attempt.error("redirected to a URL the agent does not download from (https, or http to loopback only)")
        }
    });
    trust
        .with_anchors(network_rules::client_builder())
        .user_agent(concat!("endpoint-agent/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .redirect(redirects)
        .build()
}

/// The first byte of a `Content-Range: bytes START-END/TOTAL` value.
fn range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split_once('-')?.0.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_read() {
        let cases = [
            ("bytes 100-999/1000", Some(100)),
            ("bytes 0-0/1", Some(0)),
            ("bytes 7-9/*", Some(7)),
            ("bytes */1000", None),
            ("items 1-2/3", None),
            ("", None),
        ];
        for (value, expected) in cases {
            assert_eq!(range_start(value), expected, "{value:?}");
        }
    }
}
