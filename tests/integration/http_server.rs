//! A small HTTP/1.1 file server on 127.0.0.1 for the download tests.
//!
//! It serves bytes by path, answers `Range: bytes=N-` with `206` (or ignores it,
//! when told to), can cut its first answer short to stand for a dropped
//! connection, and records every request so a test can prove what the agent
//! asked for (or that it asked for nothing). Written on `std::net` rather than a
//! server crate because cutting a body part way through needs the raw socket.
//! Each answer closes its connection; requests are served one at a time.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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
    port: u16,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Starts serving on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_shared, thread_stop) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !thread_stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => answer(stream, &thread_shared),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self { port, shared, stop, thread: Some(thread) }
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
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

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request from `stream` and answers it.
fn answer(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(seen) = read_request(&stream) else {
        return;
    };
    shared.seen.lock().unwrap().push(seen.clone());
    let served = {
        let mut files = shared.files.lock().unwrap();
        files.get_mut(&seen.path).map(|served| {
            let this_time = served.clone();
            served.cut_after = None;
            this_time
        })
    };
    let mut stream = stream;
    let _ = match served {
        None => write_answer(&mut stream, "404 Not Found", &[], b"not found", None),
        Some(served) => answer_file(&mut stream, &served, seen.range.as_deref()),
    };
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
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

/// Writes a whole answer, or only `cut_after` bytes of its body.
fn write_answer(
    stream: &mut TcpStream,
    status: &str,
    headers: &[String],
    body: &[u8],
    cut_after: Option<usize>,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body[..cut_after.unwrap_or(body.len()).min(body.len())])
}

/// The request line and the headers the tests look at.
fn read_request(stream: &TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let (mut range, mut user_agent) = (None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "range" => range = Some(value.trim().to_string()),
            "user-agent" => user_agent = Some(value.trim().to_string()),
            _ => {}
        }
    }
    Some(Seen { path, range, user_agent })
}
