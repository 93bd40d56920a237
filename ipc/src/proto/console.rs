//! The console server's protocol. Text travels [`CHUNK`] bytes at a time, packed in the four
//! message registers (so a write takes the kernel's fast path); it may not hold NUL bytes.
//!
//! | request | words | reply |
//! |---|---|---|
//! | [`WRITE`] | up to 32 bytes of text | — (label [`OK`]) |
//! | [`READ`] | — | the next up to 32 bytes of an input line, or [`ConsoleError::EndOfInput`] |
//!
//! Writes: the server keeps each client's unfinished line and prints only whole lines, each
//! tagged with the client's name, so lines of different clients never interleave. A client
//! that may read (it looked the console up as [`INPUT`]) writes untagged, and its unfinished
//! line (a prompt) is printed at once.
//!
//! Reads: `READ` waits until a whole line has been typed, with basic editing (backspace;
//! Ctrl-C cancels the line; Ctrl-D on an empty line ends input), then answers with its first
//! chunk; further reads take the rest. The last chunk of a line ends with `\n`.

use super::{pack, unpack, Message, OK};

pub const WRITE: u32 = 1;
pub const READ: u32 = 2;

/// Bytes of text one message carries.
pub const CHUNK: usize = 32;

/// The service names the console provides, in this order: the first to write, the second
/// to read lines as well.
pub const OUTPUT: &str = "console";
pub const INPUT: &str = "input";

errors! {
    /// What the console refuses a request with: the label of its reply.
    ConsoleError {
        /// Not a request of this protocol, or text with a NUL or not UTF-8.
        BadRequest = 1: "bad request",
        /// Only a client that looked the console up as [`INPUT`] may read.
        Denied = 2: "not allowed to read the console",
        /// Another client is already waiting for a line.
        Busy = 3: "someone else is reading the console",
        /// Ctrl-D on an empty line: no more input.
        EndOfInput = 4: "end of input",
    }
}

/// Up to [`CHUNK`] bytes of text, cut at a character boundary.
pub fn chunk(text: &str) -> &str {
    let mut end = text.len().min(CHUNK);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A message carrying `text` (at most [`CHUNK`] bytes, no NUL): a `WRITE` request, or, with
/// label [`OK`], a chunk of a line read.
pub fn text_message(label: u32, text: &str) -> Option<Message> {
    let words: [u64; 4] = pack(text)?;
    Some(Message::new(label, &words, 0))
}

/// The text a `WRITE` or a read chunk carries.
pub fn text_of<'a>(m: &Message, buf: &'a mut [u8; 64]) -> Option<&'a str> {
    if m.len != 4 {
        return None;
    }
    unpack(&m.words, buf)
}

/// A request, as the server reads it (the text of a write is read with [`text_of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Write,
    Read,
}

impl Request {
    pub fn decode(m: &Message) -> Result<Request, ConsoleError> {
        match m.label {
            WRITE if m.len == 4 && m.caps == 0 => Ok(Request::Write),
            READ if m.caps == 0 => Ok(Request::Read),
            _ => Err(ConsoleError::BadRequest),
        }
    }
}

/// A reply refusing a request.
pub fn refuse(e: ConsoleError) -> Message {
    Message::new(e.code(), &[], 0)
}

/// The reply to a write.
pub fn written() -> Message {
    Message::new(OK, &[], 0)
}

/// What a reply to `READ` carries: a chunk of the line, or why there is none.
pub fn read_reply<'a>(m: &Message, buf: &'a mut [u8; 64]) -> Result<&'a str, ConsoleError> {
    match m.label {
        OK => text_of(m, buf).ok_or(ConsoleError::BadRequest),
        code => Err(ConsoleError::from_code(code).unwrap_or(ConsoleError::BadRequest)),
    }
}

/// What a reply to `WRITE` says.
pub fn write_reply(m: &Message) -> Result<(), ConsoleError> {
    match m.label {
        OK => Ok(()),
        code => Err(ConsoleError::from_code(code).unwrap_or(ConsoleError::BadRequest)),
    }
}

/// A line being typed: the bytes so far, with the editing keys applied. The console feeds
/// it every byte that arrives.
pub struct LineEditor<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

/// What a byte typed did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Typed {
    /// Kept; echo it.
    Echo(u8),
    /// The last character was erased: echo backspace, space, backspace.
    Erased,
    /// Ignored: nothing to echo (a control byte, a full line, backspace on an empty line).
    Nothing,
    /// The line is done (Enter): echo a newline; take it with [`LineEditor::take`].
    Done,
    /// Ctrl-C: the line was thrown away; echo `^C` and a newline.
    Cancelled,
    /// Ctrl-D on an empty line.
    EndOfInput,
}

impl<const N: usize> Default for LineEditor<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineEditor<N> {
    pub const fn new() -> Self {
        LineEditor { bytes: [0; N], len: 0 }
    }

    pub fn feed(&mut self, byte: u8) -> Typed {
        match byte {
            b'\r' | b'\n' => Typed::Done,
            0x03 => {
                self.len = 0;
                Typed::Cancelled
            }
            0x04 if self.len == 0 => Typed::EndOfInput,
            0x08 | 0x7f => {
                if self.len == 0 {
                    return Typed::Nothing;
                }
                // Erase a whole UTF-8 character: its continuation bytes, then its first.
                while self.len > 0 && self.bytes[self.len - 1] & 0xc0 == 0x80 {
                    self.len -= 1;
                }
                self.len = self.len.saturating_sub(1);
                Typed::Erased
            }
            b if b < 0x20 || self.len == N => Typed::Nothing,
            b => {
                self.bytes[self.len] = b;
                self.len += 1;
                Typed::Echo(b)
            }
        }
    }

    /// The finished line (invalid UTF-8 dropped), and a fresh start.
    pub fn take(&mut self, out: &mut [u8; N]) -> usize {
        let text = core::str::from_utf8(&self.bytes[..self.len]);
        let valid = match text {
            Ok(t) => t.len(),
            Err(e) => e.valid_up_to(),
        };
        out[..valid].copy_from_slice(&self.bytes[..valid]);
        self.len = 0;
        valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_in_chunks() {
        let mut buf = [0; 64];
        for text in ["", "hello", "exactly thirty-two bytes long!!!", "é€"] {
            let m = text_message(WRITE, text).unwrap();
            assert_eq!(Request::decode(&m), Ok(Request::Write));
            assert_eq!(text_of(&m, &mut buf), Some(text));
        }
        assert!(text_message(WRITE, "thirty-three bytes long, too long!").is_none());
        assert!(text_message(WRITE, "nul\0").is_none());
        let long = "ééééééééééééééééé";
        assert_eq!(chunk(long).len(), 32);
        assert_eq!(chunk("€€€€€€€€€€€").len(), 30, "never inside a character");
    }

    #[test]
    fn replies_and_refusals() {
        let mut buf = [0; 64];
        assert_eq!(read_reply(&text_message(OK, "ls\n").unwrap(), &mut buf), Ok("ls\n"));
        assert_eq!(read_reply(&refuse(ConsoleError::EndOfInput), &mut buf), Err(ConsoleError::EndOfInput));
        assert_eq!(write_reply(&written()), Ok(()));
        assert_eq!(write_reply(&refuse(ConsoleError::Denied)), Err(ConsoleError::Denied));
        assert_eq!(Request::decode(&Message::new(WRITE, &[1], 0)), Err(ConsoleError::BadRequest));
        assert_eq!(Request::decode(&Message::new(9, &[], 0)), Err(ConsoleError::BadRequest));
        for &e in ConsoleError::ALL {
            assert_eq!(ConsoleError::from_code(e.code()), Some(e));
        }
    }

    fn typed(line: &mut LineEditor<8>, bytes: &[u8]) -> Vec<Typed> {
        bytes.iter().map(|&b| line.feed(b)).collect()
    }

    #[test]
    fn line_editing() {
        let mut line = LineEditor::<8>::new();
        let mut out = [0; 8];
        assert_eq!(
            typed(&mut line, b"lx\x7fs\r"),
            [Typed::Echo(b'l'), Typed::Echo(b'x'), Typed::Erased, Typed::Echo(b's'), Typed::Done]
        );
        let n = line.take(&mut out);
        assert_eq!(&out[..n], b"ls");
        assert_eq!(typed(&mut line, b"\x7f\x1b"), [Typed::Nothing, Typed::Nothing], "nothing to erase; escape ignored");
        assert_eq!(typed(&mut line, b"ab\x03"), [Typed::Echo(b'a'), Typed::Echo(b'b'), Typed::Cancelled]);
        assert_eq!(line.take(&mut out), 0, "cancelled");
        assert_eq!(line.feed(0x04), Typed::EndOfInput);
        line.feed(b'a');
        assert_eq!(line.feed(0x04), Typed::Nothing, "Ctrl-D inside a line");
        assert_eq!(
            typed(&mut line, b"12345678"),
            [
                Typed::Echo(b'1'),
                Typed::Echo(b'2'),
                Typed::Echo(b'3'),
                Typed::Echo(b'4'),
                Typed::Echo(b'5'),
                Typed::Echo(b'6'),
                Typed::Echo(b'7'),
                Typed::Nothing
            ],
            "full"
        );
        line.take(&mut out);
        for &b in "é".as_bytes() {
            line.feed(b);
        }
        assert_eq!(line.feed(0x7f), Typed::Erased);
        assert_eq!(line.take(&mut out), 0, "the whole character erased");
        assert_eq!(typed(&mut line, &[0xff, b'a']), [Typed::Echo(0xff), Typed::Echo(b'a')]);
        assert_eq!(line.take(&mut out), 0, "invalid UTF-8 is dropped from where it starts");
    }
}
