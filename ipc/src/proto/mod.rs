//! Seam's own server protocols: for each server, its labels, what each message carries, its
//! error codes, and the typed encode/decode that both sides use. Servers and their clients
//! never assemble raw words by hand.
//!
//! Every protocol follows the same shape. A request's label says what is asked; a reply's
//! label is [`OK`] or an error code of the protocol. Words travel in the four message
//! registers where they fit; capabilities, when a message carries one, in the IPC buffer's
//! transfer slots.

/// Defines a protocol's errors: an enum whose values are the labels of refusing replies,
/// with `code`, `from_code` (every code, `ALL`) and a `Display` of the texts given.
macro_rules! errors {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal: $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $code,)+
        }

        impl $name {
            /// Every error, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label of a reply refusing with it.
            pub const fn code(self) -> u32 {
                self as u32
            }

            pub fn from_code(code: u32) -> Option<$name> {
                $name::ALL.iter().copied().find(|e| e.code() == code)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
                f.write_str(match self {
                    $($name::$variant => $text,)+
                })
            }
        }
    };
}

pub mod compat;
pub mod console;
pub mod gallery;
pub mod init;
pub mod name;
pub mod settings;
pub mod weather;

use crate::msg::{MsgInfo, MSG_MAX_WORDS, MSG_REGS};

/// The label of a reply that succeeded.
pub const OK: u32 = 0;

/// A message as a protocol builds and reads it: a label, up to [`MSG_REGS`] words, and how
/// many capabilities travel with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    pub label: u32,
    pub words: [u64; MSG_REGS],
    pub len: u8,
    pub caps: u8,
}

impl Message {
    /// A message of `words` (at most four) and `caps` capabilities.
    pub fn new(label: u32, words: &[u64], caps: u8) -> Message {
        let mut w = [0; MSG_REGS];
        let len = words.len().min(MSG_REGS);
        w[..len].copy_from_slice(&words[..len]);
        Message { label, words: w, len: len as u8, caps }
    }

    /// A message as the kernel delivered it: its info word and registers.
    pub fn received(info: u64, words: [u64; MSG_REGS]) -> Option<Message> {
        let info = MsgInfo::decode(info).ok()?;
        let len = info.words.min(MSG_REGS as u8);
        Some(Message { label: info.label, words, len, caps: info.caps })
    }

    /// The info word to send it with.
    pub const fn info(&self) -> MsgInfo {
        MsgInfo { label: self.label, words: self.len, caps: self.caps }
    }
}

/// A message of up to [`MSG_MAX_WORDS`] words, for protocols whose requests carry more than
/// the registers hold (text of a few hundred bytes): the first [`MSG_REGS`] words travel in
/// the registers, the rest in the IPC buffer. Bytes are packed little-endian from a word on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Long {
    pub label: u32,
    pub words: [u64; MSG_MAX_WORDS],
    pub len: usize,
    pub caps: u8,
}

impl Long {
    pub const fn new(label: u32) -> Long {
        Long { label, words: [0; MSG_MAX_WORDS], len: 0, caps: 0 }
    }

    pub const fn info(&self) -> MsgInfo {
        MsgInfo { label: self.label, words: self.len as u8, caps: self.caps }
    }

    /// Appends a word; false if the message is full.
    pub fn push(&mut self, word: u64) -> bool {
        if self.len == MSG_MAX_WORDS {
            return false;
        }
        self.words[self.len] = word;
        self.len += 1;
        true
    }

    /// Appends `bytes`, packed into as many words as they need, after their length; false
    /// (nothing appended) if they do not fit.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> bool {
        let words = bytes.len().div_ceil(8);
        if self.len + 1 + words > MSG_MAX_WORDS {
            return false;
        }
        self.push(bytes.len() as u64);
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.push(u64::from_le_bytes(word));
        }
        true
    }

    /// A reader from word `at`.
    pub fn reader(&self, at: usize) -> Reader<'_> {
        Reader { message: self, at }
    }
}

/// Reads a [`Long`] word by word; each read fails (None) past the words the message has.
pub struct Reader<'a> {
    message: &'a Long,
    at: usize,
}

impl<'a> Reader<'a> {
    /// The next word, left to be read.
    pub fn peek(&self) -> Option<u64> {
        self.message.words[..self.message.len].get(self.at).copied()
    }

    pub fn word(&mut self) -> Option<u64> {
        let w = *self.message.words[..self.message.len].get(self.at)?;
        self.at += 1;
        Some(w)
    }

    /// Bytes appended with [`Long::push_bytes`], into `out`; at most `max` of them.
    pub fn bytes<'o>(&mut self, max: usize, out: &'o mut [u8]) -> Option<&'o [u8]> {
        let len = usize::try_from(self.word()?).ok().filter(|&l| l <= max && l <= out.len())?;
        for i in 0..len.div_ceil(8) {
            let word = self.word()?.to_le_bytes();
            let part = &mut out[i * 8..(len).min(i * 8 + 8)];
            let n = part.len();
            part.copy_from_slice(&word[..n]);
        }
        Some(&out[..len])
    }

    /// Text appended with [`Long::push_bytes`], checked to be UTF-8.
    pub fn text<'o>(&mut self, max: usize, out: &'o mut [u8]) -> Option<&'o str> {
        core::str::from_utf8(self.bytes(max, out)?).ok()
    }
}

/// Up to `N * 8` bytes of text packed little-endian into words, zero-padded: how names
/// travel in registers. Text may not hold a NUL byte, which marks the end.
pub fn pack<const N: usize>(text: &str) -> Option<[u64; N]> {
    if text.len() > N * 8 || text.as_bytes().contains(&0) {
        return None;
    }
    let mut bytes = [0u8; 64];
    bytes[..text.len()].copy_from_slice(text.as_bytes());
    Some(core::array::from_fn(|i| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"))))
}

/// The bytes [`pack`] packed (up to the first NUL), into `out`; returns them as text.
pub fn unpack<'a, const N: usize>(words: &[u64; N], out: &'a mut [u8; 64]) -> Option<&'a str> {
    for (i, w) in words.iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    let len = out[..N * 8].iter().position(|&b| b == 0).unwrap_or(N * 8);
    // What follows the first NUL must be padding.
    if out[len..N * 8].iter().any(|&b| b != 0) {
        return None;
    }
    core::str::from_utf8(&out[..len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_packs_and_unpacks() {
        let mut buf = [0; 64];
        for text in ["", "a", "console", "exactly-twenty-four-byte"] {
            let words: [u64; 3] = pack(text).unwrap();
            assert_eq!(unpack(&words, &mut buf), Some(text));
        }
        assert_eq!(pack::<3>("twenty-five-bytes-is-over"), None);
        assert_eq!(pack::<3>("nul\0inside"), None);
        assert_eq!(unpack(&[u64::from_le_bytes(*b"ab\0c\0\0\0\0"), 0, 0], &mut buf), None, "bytes after the end");
        assert_eq!(unpack(&[u64::from_le_bytes([0xff; 8]), 0, 0], &mut buf), None, "not UTF-8");
    }

    #[test]
    fn long_messages_carry_bytes_and_refuse_to_overflow() {
        let mut m = Long::new(5);
        assert!(m.push(42));
        assert!(m.push_bytes(b"system.locale"));
        assert!(m.push_bytes(&[0xab; 300]));
        assert!(m.push_bytes(b""));
        let mut r = m.reader(0);
        assert_eq!(r.word(), Some(42));
        let mut buf = [0u8; 512];
        assert_eq!(r.text(64, &mut buf), Some("system.locale"));
        assert_eq!(r.bytes(512, &mut buf), Some(&[0xab; 300][..]));
        assert_eq!(r.bytes(8, &mut buf), Some(&[][..]));
        assert_eq!(r.word(), None, "past the end");
        let mut limit = m.reader(1);
        assert_eq!(limit.text(5, &mut buf), None, "longer than allowed");
        let mut full = Long::new(1);
        assert!(!full.push_bytes(&[0; MSG_MAX_WORDS * 8]), "too long for a message");
        assert_eq!(full.len, 0, "nothing appended");
        while full.push(1) {}
        assert_eq!(full.len, MSG_MAX_WORDS);
        assert_eq!(full.info().words as usize, MSG_MAX_WORDS);
        let mut lying = Long::new(1);
        lying.push(1000);
        let mut big = [0u8; 2048];
        assert_eq!(lying.reader(0).bytes(2000, &mut big), None, "a length past the words sent");
    }

    #[test]
    fn messages_round_trip_through_the_info_word() {
        let m = Message::new(7, &[1, 2, 3], 1);
        assert_eq!(Message::received(m.info().encode(), m.words), Some(m));
        assert_eq!(Message::received(u64::MAX, [0; 4]), None);
    }
}
