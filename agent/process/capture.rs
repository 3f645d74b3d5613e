//! The bounded copy of a child's output, and the reader that fills it.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tracing::warn;

/// Bounded copy of everything the program wrote to stdout and stderr.
///
/// Keeps the first `capture_head` bytes, the last `capture_tail` bytes and
/// the total count, so a program that writes gigabytes costs only the two
/// buffers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedOutput {
    pub(super) head: Vec<u8>,
    pub(super) tail: VecDeque<u8>,
    total_bytes: u64,
    head_limit: usize,
    tail_limit: usize,
}

impl CapturedOutput {
    /// An empty capture that keeps at most `head_limit` leading and
    /// `tail_limit` trailing bytes. Nothing is reserved up front: most programs
    /// print little or nothing.
    pub(super) fn with_limits(head_limit: usize, tail_limit: usize) -> Self {
        Self { head: Vec::new(), tail: VecDeque::new(), total_bytes: 0, head_limit, tail_limit }
    }

    /// Records the next bytes the program wrote.
    pub(super) fn append(&mut self, bytes: &[u8]) {
        self.total_bytes = self.total_bytes.saturating_add(bytes.len() as u64);
        let head_room = self.head_limit.saturating_sub(self.head.len());
        let (into_head, rest) = bytes.split_at(head_room.min(bytes.len()));
        self.head.extend_from_slice(into_head);
        if rest.is_empty() || self.tail_limit == 0 {
            return;
        }
        let kept = if rest.len() >= self.tail_limit {
            self.tail.clear();
            &rest[rest.len() - self.tail_limit..]
        } else {
            let overflow = (self.tail.len() + rest.len()).saturating_sub(self.tail_limit);
            self.tail.drain(..overflow);
            rest
        };
        self.tail.extend(kept);
    }

    /// Total number of bytes the program wrote, kept or not.
    #[cfg(test)]
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Number of bytes written but kept in neither the head nor the tail.
    pub fn omitted_bytes(&self) -> u64 {
        let kept = (self.head.len() + self.tail.len()) as u64;
        self.total_bytes.saturating_sub(kept)
    }

    /// Whether some of the output was dropped between head and tail.
    pub fn is_truncated(&self) -> bool {
        self.omitted_bytes() > 0
    }

    /// The output as text (invalid UTF-8 replaced). When output was dropped,
    /// the head and tail are separated by a line naming the omitted byte count.
    pub fn to_text(&self) -> String {
        let (tail_front, tail_back) = self.tail.as_slices();
        if !self.is_truncated() {
            let whole = [self.head.as_slice(), tail_front, tail_back].concat();
            return String::from_utf8_lossy(&whole).into_owned();
        }
        let tail = [tail_front, tail_back].concat();
        format!(
            "{}\n[… {} bytes omitted …]\n{}",
            String::from_utf8_lossy(&self.head),
            self.omitted_bytes(),
            String::from_utf8_lossy(&tail)
        )
    }
}

/// Reads the merged output pipe into a bounded capture.
pub(super) struct OutputReader {
    pub(super) receiver: pipe::Receiver,
    pub(super) chunk: Box<[u8]>,
    pub(super) captured: CapturedOutput,
    /// The end of output was reached (or reading failed).
    pub(super) finished: bool,
}

impl OutputReader {
    /// Reads until the end of output. Safe to cancel: every chunk read is
    /// recorded before the next await point.
    pub(super) async fn read_until_finished(&mut self) {
        while !self.finished {
            match self.receiver.read(&mut self.chunk).await {
                Ok(0) => self.finished = true,
                Ok(count) => self.captured.append(&self.chunk[..count]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    warn!(%error, "reading the child's output failed");
                    self.finished = true;
                }
            }
        }
    }

    /// Reads what is still buffered, for at most `limit`.
    pub(super) async fn drain(&mut self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.read_until_finished()).await;
    }
}
