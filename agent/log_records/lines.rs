//! Cutting a log file's bytes into lines while holding at most one line of bounded
//! length, so reading a log never costs memory in proportion to its size.
//!
//! Bytes are fed in as they are read, in blocks of any size; each whole line is
//! handed on as it ends. A line longer than the limit is dropped (never buffered
//! past the limit) and counted, so the reader can say it skipped it.

use std::ops::ControlFlow;

/// The longest line read back: far past any line the agent writes (an item's
/// start or end is a few hundred bytes; output is kept in the state store, not
/// the log), and small enough that holding one costs little.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What to do with each whole line: go on, or stop reading.
pub(crate) type LineVisitor<'visit> = dyn FnMut(&[u8]) -> ControlFlow<()> + 'visit;

/// The line being assembled from the blocks fed so far.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    /// The start of the line that has not ended yet.
    line: Vec<u8>,
    /// The line being fed is past the limit (or began before the reader did) and
    /// is dropped up to its end.
    dropping: bool,
    /// Whether the line being dropped is counted as too long (not when it is the
    /// tail of a line begun before the reader's starting point).
    counting: bool,
    /// The longest line kept.
    limit: usize,
    /// Lines dropped for being longer than `limit`.
    pub(crate) overlong_lines: usize,
}

impl LineSplitter {
    /// A splitter keeping lines of at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Self { line: Vec::new(), dropping: false, counting: false, limit, overlong_lines: 0 }
    }

    /// A splitter starting somewhere inside a file: the bytes up to the first line
    /// break are the end of an earlier line and are dropped uncounted.
    pub(crate) fn mid_line(limit: usize) -> Self {
        Self { dropping: true, ..Self::new(limit) }
    }

    /// Hands each line that ends in `bytes` (without its `\n`) to `visit`, and keeps
    /// the start of the line that does not; stops when `visit` says so.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], visit: &mut LineVisitor<'_>) -> ControlFlow<()> {
        while let Some(end) = bytes.iter().position(|&byte| byte == b'\n') {
            let (piece, rest) = (&bytes[..end], &bytes[end + 1..]);
            bytes = rest;
            if !self.dropping && self.line.is_empty() && piece.len() <= self.limit {
                // A line inside one block is handed on as it is, never copied.
                visit(piece)?;
                continue;
            }
            self.keep(piece);
            if std::mem::take(&mut self.dropping) {
                self.end_dropped();
                continue;
            }
            let flow = visit(&self.line);
            self.line.clear();
            flow?;
        }
        self.keep(bytes);
        ControlFlow::Continue(())
    }

    /// The last line, when the file does not end with a line break.
    pub(crate) fn finish(&mut self, visit: &mut LineVisitor<'_>) -> ControlFlow<()> {
        if std::mem::take(&mut self.dropping) {
            self.end_dropped();
            return ControlFlow::Continue(());
        }
        let line = std::mem::take(&mut self.line);
        if line.is_empty() { ControlFlow::Continue(()) } else { visit(&line) }
    }

    /// Adds `piece` to the line, or starts dropping it when it would pass the limit.
    fn keep(&mut self, piece: &[u8]) {
        if self.dropping {
            return;
        }
        if self.line.len() + piece.len() > self.limit {
            (self.dropping, self.counting) = (true, true);
            self.line = Vec::new();
        } else {
            self.line.extend_from_slice(piece);
        }
    }

    /// A dropped line has ended: counts it if it was too long.
    fn end_dropped(&mut self) {
        if std::mem::take(&mut self.counting) {
            self.overlong_lines += 1;
        }
        self.line.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `blocks` to `splitter`, returning the lines handed on.
    fn lines(splitter: &mut LineSplitter, blocks: &[&[u8]]) -> Vec<String> {
        let mut seen = Vec::new();
        let mut visit = |line: &[u8]| {
            seen.push(String::from_utf8_lossy(line).into_owned());
            ControlFlow::Continue(())
        };
        for block in blocks {
            let _ = splitter.feed(block, &mut visit);
        }
        let _ = splitter.finish(&mut visit);
        seen
    }

    #[test]
    fn lines_are_whole_whatever_the_blocks() {
        let mut splitter = LineSplitter::new(10);
        let seen = lines(&mut splitter, &[b"one\ntw", b"o\n\nthr", b"ee"]);
        assert_eq!(seen, ["one", "two", "", "three"]);
        assert_eq!(splitter.overlong_lines, 0);
    }

    #[test]
    fn a_line_past_the_limit_is_dropped_and_counted_in_one_block_or_many() {
        let mut splitter = LineSplitter::new(5);
        let seen = lines(&mut splitter, &[b"short\nmuch too long\nok\nlong", b"er and lo", b"nger\nend"]);
        assert_eq!(seen, ["short", "ok", "end"]);
        assert_eq!(splitter.overlong_lines, 2);
        let mut unfinished = LineSplitter::new(5);
        assert!(lines(&mut unfinished, &[b"ok\n", b"endless line"]) == ["ok"]);
        assert_eq!(unfinished.overlong_lines, 1);
    }

    #[test]
    fn a_splitter_started_mid_line_drops_that_lines_end_uncounted() {
        let mut splitter = LineSplitter::mid_line(100);
        assert_eq!(lines(&mut splitter, &[b"tail of a line\nwhole\n"]), ["whole"]);
        assert_eq!(splitter.overlong_lines, 0);
    }

    #[test]
    fn the_visitor_can_stop_the_reading() {
        let mut splitter = LineSplitter::new(10);
        let mut seen = 0;
        let flow = splitter.feed(b"a\nb\nc\n", &mut |_| {
            seen += 1;
            ControlFlow::Break(())
        });
        assert_eq!((flow, seen), (ControlFlow::Break(()), 1));
    }
}
