//! The page's web server: bound to 127.0.0.1 on a free port, one HTTP/1.1
//! connection per task, until the page is closed or idle, or the person stops it
//! (Ctrl-C, SIGTERM).

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::access::Access;
use super::browser::{self, ForwardingFile};
use super::lifetime::{Activity, Limits};
use super::routes::{Page, answer};
use crate::terminal;

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the server pauses after failing to accept a connection.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// What the page's server needs.
#[derive(Debug, Clone)]
pub(crate) struct PageSettings {
    /// The daemon's control socket.
    pub socket: PathBuf,
    /// The program that opens a URL in the browser; `None` prints the URL instead.
    pub opener: Option<PathBuf>,
    /// When the server stops on its own.
    pub limits: Limits,
}

/// Why the page could not be served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// No port on 127.0.0.1.
    #[error("cannot listen on 127.0.0.1")]
    Listen(#[source] std::io::Error),
    /// No randomness for the secret.
    #[error("cannot make the page's one-time secret")]
    Random(#[source] getrandom::Error),
    /// The URL could not be printed.
    #[error("cannot print the page's address")]
    Print(#[source] std::io::Error),
}

/// Serves the Self Service page until it is closed or idle, or `stop` resolves.
pub(crate) async fn serve(settings: PageSettings, stop: impl Future<Output = ()>) -> Result<(), PageError> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await.map_err(PageError::Listen)?;
    let port = listener.local_addr().map_err(PageError::Listen)?.port();
    let access = Access::new(port).map_err(PageError::Random)?;
    let url = access.open_url();
    let activity = Activity::new(settings.limits);
    let page = Arc::new(Page { access, activity: Arc::clone(&activity), socket: settings.socket });
    tracing::info!(port, "Self Service page serving on 127.0.0.1.");
    let _forwarding = match &settings.opener {
        None => {
            terminal::print_line(&url).map_err(PageError::Print)?;
            None
        }
        Some(opener) => open_browser(opener, &url, port).await?,
    };
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = activity.until_done() => break,
            () = &mut stop => break,
        };
        match accepted {
            Ok((connection, _)) => serve_connection(connection, Arc::clone(&page)),
            Err(error) => {
                tracing::warn!(%error, "Cannot accept a connection to the Self Service page.");
                // Out of descriptors, say: let connections end rather than spin.
                tokio::time::sleep(ACCEPT_PAUSE).await;
            }
        }
    }
    tracing::info!("Self Service page closed.");
    Ok(())
}

/// Opens the page in the browser; when that fails, prints the URL to open. The
/// forwarding file is kept until the server stops.
async fn open_browser(opener: &Path, url: &str, port: u16) -> Result<Option<ForwardingFile>, PageError> {
    let unique = format!("{}-{port}", std::process::id());
    let opened = match ForwardingFile::write(&std::env::temp_dir(), &unique, url) {
        Ok(forwarding) => browser::open(opener, &forwarding).await.map(|()| forwarding),
        Err(error) => Err(error),
    };
    match opened {
        Ok(forwarding) => Ok(Some(forwarding)),
        Err(error) => {
            tracing::warn!(error = %crate::error_chain::with_causes(&error), "Cannot open the browser.");
            terminal::print_line(&format!("Open this address in your browser: {url}")).map_err(PageError::Print)?;
            Ok(None)
        }
    }
}

/// Serves one connection in its own task.
fn serve_connection(connection: tokio::net::TcpStream, page: Arc<Page>) {
    tokio::spawn(async move {
        let service = service_fn(move |request| answer(Arc::clone(&page), request));
        let served = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(connection), service)
            .await;
        if let Err(error) = served {
            tracing::debug!(%error, "A Self Service page connection ended early.");
        }
    });
}
