//! A small HTTP/1.1 file server on 127.0.0.1 for the download tests.
//!
//! It serves bytes by path, answers `Range: bytes=N-` with `206` (or ignores it,
//! when told to), can cut its first answer short to stand for a dropped
//! connection, and records every request so a test can prove what the agent
//! asked for (or that it asked for nothing). On the tests' one accept loop
//! ([`crate::test_server`]); requests are served one at a time.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::test_server::{Connection, Connections, Request, TestServer, write_answer};

/// How a path is served.
#[derive(Debug, Clone, Default)]
pub struct Served {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// Send the whole file with `200` even when a `Range` is asked for.
    pub ignore_range: bool,
    /// Send only this many body bytes of the next answer, then drop the connection.
    pub cut_after: Option<usize>,
    /// Answer `302 Found` with this `Location` instead of the file.
    pub redirect_to: Option<String>,
    /// Announce this `Content-Length` instead of the body's true length.
    pub announce_length: Option<usize>,
    /// Send no `Content-Length`: the body ends when the connection closes.
    pub no_length: bool,
    /// Send the body this many bytes at a time, pausing this long after each.
    pub drip: Option<(usize, Duration)>,
}

/// One request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The request path, such as `/Foo.zip`.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
}

#[derive(Default)]
struct Shared {
    files: Mutex<HashMap<String, Served>>,
    seen: Mutex<Vec<Seen>>,
}

/// The running server; stopped when dropped.
pub struct FileServer {
    server: TestServer,
    shared: Arc<Shared>,
}

impl FileServer {
    /// Starts serving on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let serving = shared.clone();
        let server = TestServer::start(Connections::OneAtATime, move |request, connection| {
            answer(&request, connection, &serving)
        });
        Self { server, shared }
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    /// Serves `bytes` at `path`, honouring ranges.
    pub fn serve(&self, path: &str, bytes: Vec<u8>) {
        self.serve_with(path, Served { bytes, ..Served::default() });
    }

    /// Serves `path` as `served` says.
    pub fn serve_with(&self, path: &str, served: Served) {
        self.shared.files.lock().unwrap().insert(path.to_string(), served);
    }

    /// The requests seen for `path`, oldest first.
    pub fn requests(&self, path: &str) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().iter().filter(|seen| seen.path == path).cloned().collect()
    }
}

/// Answers `request` with the file served at its path.
fn answer(request: &Request, mut connection: Connection, shared: &Shared) {
    let seen =
        Seen { path: request.target.clone(), range: request.header("range"), user_agent: request.header("user-agent") };
    shared.seen.lock().unwrap().push(seen.clone());
    let served = {
        let mut files = shared.files.lock().unwrap();
        files.get_mut(&seen.path).map(|served| {
            let this_time = served.clone();
            served.cut_after = None;
            this_time
        })
    };
    let _ = match served {
        None => write_answer(&mut connection.stream, "404 Not Found", &[], b"not found", None),
        Some(served) => answer_file(&mut connection.stream, &served, seen.range.as_deref()),
    };
    connection.close();
}

fn answer_file(stream: &mut TcpStream, served: &Served, range: Option<&str>) -> std::io::Result<()> {
    if let Some(location) = &served.redirect_to {
        return write_answer(stream, "302 Found", &[format!("Location: {location}")], b"", None);
    }
    let total = served.bytes.len();
    let start = range
        .filter(|_| !served.ignore_range)
        .and_then(|range| range.trim().strip_prefix("bytes="))
        .and_then(|range| range.strip_suffix('-'))
        .and_then(|start| start.parse::<usize>().ok());
    match start {
        Some(start) if start >= total => {
            let header = format!("Content-Range: bytes */{total}");
            write_answer(stream, "416 Range Not Satisfiable", &[header], b"", None)
        }
        Some(start) => {
            let header = format!("Content-Range: bytes {start}-{}/{total}", total - 1);
            write_answer(stream, "206 Partial Content", &[header], &served.bytes[start..], served.cut_after)
        }
        None if served.no_length || served.announce_length.is_some() || served.drip.is_some() => {
            write_shaped(stream, served)
        }
        None => write_answer(stream, "200 OK", &[], &served.bytes, served.cut_after),
    }
}

/// A `200` whose length header lies or is missing, or whose body comes slowly.
fn write_shaped(stream: &mut TcpStream, served: &Served) -> std::io::Result<()> {
    let mut head = "HTTP/1.1 200 OK\r\nConnection: close\r\n".to_string();
    if !served.no_length {
        head.push_str(&format!("Content-Length: {}\r\n", served.announce_length.unwrap_or(served.bytes.len())));
    }
    stream.write_all(format!("{head}\r\n").as_bytes())?;
    let (size, pause) = served.drip.unwrap_or((served.bytes.len().max(1), Duration::ZERO));
    for chunk in served.bytes.chunks(size) {
        stream.write_all(chunk)?;
        stream.flush()?;
        std::thread::sleep(pause);
    }
    Ok(())
}
