//! The one accept loop of the tests' HTTP servers (the file server, the test
//! tenant, the OTLP receiver): it listens on a free port of 127.0.0.1, reads each
//! request and hands it to the server's handler, which answers it, answers part
//! of it, or hangs until the server stops.
//!
//! Written on `std::net` rather than a server crate because the tests need the
//! raw socket: to cut a body part way through, to lie about its length, or to
//! accept and never answer. Every answer closes its connection.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a connection may take to send its request: a bound on waiting, wide
/// enough for a loaded machine.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How the server takes its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// One at a time, in arrival order, on the accepting thread.
    OneAtATime,
    /// Each on a thread of its own, so one that hangs holds up no other.
    Concurrent,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target: the path with its query, such as `/Foo.zip?x=1`.
    pub target: String,
    /// Every header, names in lowercase.
    pub headers: BTreeMap<String, String>,
    /// The body, `Content-Length` bytes of it.
    pub body: Vec<u8>,
}

impl Request {
    /// The path, without its query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The query string, without its `?` (empty when there is none).
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, query)| query)
    }

    /// The header `name` (in lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).cloned()
    }
}

/// A connection whose request has been read, for the handler to answer.
pub struct Connection {
    pub stream: TcpStream,
    stopping: Arc<AtomicBool>,
}

impl Connection {
    /// Writes a whole answer (`status` such as `200 OK`, each header a `Name: value`
    /// line without its line end) and closes the connection.
    pub fn answer(mut self, status: &str, headers: &[String], body: &[u8]) {
        let _ = write_answer(&mut self.stream, status, headers, body, None);
        self.close();
    }

    /// Holds the connection open, answering nothing, until the server stops.
    pub fn hang(self) {
        while !self.stopping.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Flushes what was written and closes both directions.
    pub fn close(mut self) {
        let _ = self.stream.flush();
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// The running server; stopped when dropped (connections left hanging are let go).
pub struct TestServer {
    port: u16,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts on a free port of 127.0.0.1; `handler` answers each request read.
    pub fn start<H>(connections: Connections, handler: H) -> Self
    where
        H: Fn(Request, Connection) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().unwrap().port();
        let stopping = Arc::new(AtomicBool::new(false));
        let (handler, serving) = (Arc::new(handler), stopping.clone());
        let thread = std::thread::spawn(move || {
            while !serving.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let (handler, stopping) = (handler.clone(), serving.clone());
                let serve = move || serve_one(stream, stopping, &*handler);
                match connections {
                    Connections::OneAtATime => serve(),
                    Connections::Concurrent => drop(std::thread::spawn(serve)),
                }
            }
        });
        Self { port, stopping, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads the request on `stream` and hands it to `handler`; a connection that
/// sends no whole request is dropped.
fn serve_one(stream: TcpStream, stopping: Arc<AtomicBool>, handler: &dyn Fn(Request, Connection)) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let Ok(reading) = stream.try_clone() else { return };
    let Some(request) = read_request(&mut BufReader::new(reading)) else { return };
    handler(request, Connection { stream, stopping });
}

/// The request line, the headers and `Content-Length` bytes of body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length = match headers.get("content-length") {
        Some(length) => length.parse().ok()?,
        None => 0,
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, target, headers, body })
}

/// Writes an answer with its `Content-Length`, and all of its body or only its
/// first `cut_after` bytes.
pub fn write_answer(
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
