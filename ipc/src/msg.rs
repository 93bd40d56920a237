//! The layout of a message: what `Send`, `Call`, `Recv` and `ReplyRecv` carry.
//!
//! A message is a label, up to [`MSG_MAX_WORDS`] words, and up to [`CAPS_MAX`] capabilities.
//! The first [`MSG_REGS`] words travel in registers (`rdx`, `r10`, `r8`, `r9`); the rest, and
//! the capability slots, in the thread's [`IpcBuffer`], a page the kernel maps at
//! [`crate::layout::IPC_BUFFER`] in every process. The info word ([`MsgInfo`], in `rsi`) says
//! how many of each there are. The receiver gets the sender's badge in `rdi`.
//!
//! | register | on entry | on return from a receive |
//! |---|---|---|
//! | `rdi` | capability slot(s), see [`crate::syscall::Syscall`] | the sender's badge |
//! | `rsi` | [`MsgInfo`] of the message sent | [`MsgInfo`] of the message received |
//! | `rdx`, `r10`, `r8`, `r9` | message words 0–3 | message words 0–3 |

use crate::Error;

/// Message words carried in registers.
pub const MSG_REGS: usize = 4;

/// The most words a message has, registers included (words `MSG_REGS..` are in the buffer).
pub const MSG_MAX_WORDS: usize = 128;

/// The most capabilities one message carries. Sending them needs the grant right on the
/// endpoint capability the message goes through.
pub const CAPS_MAX: usize = 3;

/// The label of a message the kernel delivers because a bound notification was signalled: the
/// badge register holds the notification's bits, and there are no words.
pub const LABEL_NOTIFICATION: u32 = u32::MAX;

/// The label of a fault message: a process stopped on a CPU exception. Words are
/// [`FaultWord`]s; the badge is that of the fault endpoint capability its creator gave it.
pub const LABEL_FAULT: u32 = u32::MAX - 1;

/// The words of a fault message, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum FaultWord {
    /// The exception vector (14 for a page fault).
    Vector = 0,
    /// The CPU's error code.
    ErrorCode = 1,
    /// Where the process was.
    Rip = 2,
    /// The address a page fault was about (CR2); 0 for other exceptions.
    Address = 3,
}

/// The per-thread IPC buffer: the message words beyond the registers, the slots of the
/// capabilities to send, and the slots where capabilities received should go.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct IpcBuffer {
    /// The buffer's own address in its process, written by the kernel when it maps the
    /// buffer: the thread's FS base points here, so `%fs:0` finds the buffer.
    pub address: u64,
    /// `words[i]` is message word `i`, for `MSG_REGS <= i < MSG_MAX_WORDS`; the first
    /// `MSG_REGS` entries are unused (those words are in registers).
    pub words: [u64; MSG_MAX_WORDS],
    /// Slots of the capabilities a send transfers (the first `MsgInfo::caps`).
    pub send_caps: [u64; CAPS_MAX],
    /// Empty slots for the capabilities a receive accepts, in order.
    pub recv_slots: [u64; CAPS_MAX],
}

/// Byte offsets inside the buffer, for the kernel, which reads it through physical memory.
pub const BUFFER_ADDRESS_OFFSET: usize = core::mem::offset_of!(IpcBuffer, address);
pub const BUFFER_WORDS_OFFSET: usize = core::mem::offset_of!(IpcBuffer, words);
pub const BUFFER_SEND_CAPS_OFFSET: usize = core::mem::offset_of!(IpcBuffer, send_caps);
pub const BUFFER_RECV_SLOTS_OFFSET: usize = core::mem::offset_of!(IpcBuffer, recv_slots);
const _: () = assert!(core::mem::size_of::<IpcBuffer>() <= crate::layout::PAGE_SIZE as usize);

/// The info word: label in bits 32–63, capability count in bits 8–9, word count in bits 0–7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgInfo {
    pub label: u32,
    pub words: u8,
    pub caps: u8,
}

impl MsgInfo {
    const WORDS_MASK: u64 = 0xff;
    const CAPS_SHIFT: u32 = 8;
    const CAPS_MASK: u64 = 0x3;
    const LABEL_SHIFT: u32 = 32;

    pub const fn new(label: u32, words: usize, caps: usize) -> Self {
        MsgInfo { label, words: words as u8, caps: caps as u8 }
    }

    pub const fn encode(self) -> u64 {
        (self.label as u64) << Self::LABEL_SHIFT | (self.caps as u64) << Self::CAPS_SHIFT | self.words as u64
    }

    /// Refuses unknown bits, more than [`MSG_MAX_WORDS`] words or [`CAPS_MAX`] capabilities.
    pub fn decode(word: u64) -> Result<Self, Error> {
        let words = word & Self::WORDS_MASK;
        let caps = (word >> Self::CAPS_SHIFT) & Self::CAPS_MASK;
        let known = Self::WORDS_MASK | Self::CAPS_MASK << Self::CAPS_SHIFT | 0xffff_ffff << Self::LABEL_SHIFT;
        if word & !known != 0 || words as usize > MSG_MAX_WORDS || caps as usize > CAPS_MAX {
            return Err(Error::InvalidArgument);
        }
        Ok(MsgInfo { label: (word >> Self::LABEL_SHIFT) as u32, words: words as u8, caps: caps as u8 })
    }

    /// The word count of an info word, read without checking the rest (for one already
    /// decoded or checked).
    pub const fn word_count(word: u64) -> usize {
        (word & Self::WORDS_MASK) as usize
    }

    /// The label of an info word, read without checking the rest.
    pub const fn label_of(word: u64) -> u32 {
        (word >> Self::LABEL_SHIFT) as u32
    }

    /// As [`MsgInfo::buffer_words`], from an info word read without checking the rest.
    pub const fn buffer_word_count(word: u64) -> usize {
        Self::word_count(word).saturating_sub(MSG_REGS)
    }

    /// Words beyond the registers, which travel through the IPC buffer.
    pub const fn buffer_words(self) -> usize {
        (self.words as usize).saturating_sub(MSG_REGS)
    }
}

/// Whether an info word is valid and describes a message of words only (at most
/// [`MSG_MAX_WORDS`], no capabilities): what the kernel's fast path takes. The low half of
/// the word is then just the word count: capability count and unknown bits are zero.
pub const fn is_words_only(word: u64) -> bool {
    word & 0xffff_ffff <= MSG_MAX_WORDS as u64
}

/// Two slots in one register (for `Recv` and `ReplyRecv`): the endpoint (or notification)
/// in the low half, the slot for the reply capability in the high half.
pub const fn slot_pair(endpoint: u64, reply: u64) -> u64 {
    (reply << 32) | (endpoint & 0xffff_ffff)
}

pub const fn split_slot_pair(word: u64) -> (u64, u64) {
    (word & 0xffff_ffff, word >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_round_trips() {
        for info in [MsgInfo::new(0, 0, 0), MsgInfo::new(7, 4, 1), MsgInfo::new(u32::MAX, MSG_MAX_WORDS, CAPS_MAX)] {
            assert_eq!(MsgInfo::decode(info.encode()), Ok(info));
        }
    }

    #[test]
    fn info_refuses_too_much_and_unknown_bits() {
        assert_eq!(MsgInfo::decode(MSG_MAX_WORDS as u64 + 1), Err(Error::InvalidArgument));
        assert_eq!(MsgInfo::decode(0xff), Err(Error::InvalidArgument));
        assert_eq!(MsgInfo::decode(1 << 12), Err(Error::InvalidArgument));
        assert_eq!(MsgInfo::decode(1 << 31), Err(Error::InvalidArgument));
        assert!(MsgInfo::decode(3 << 8).is_ok());
    }

    #[test]
    fn buffer_words_and_slot_pairs() {
        assert_eq!(MsgInfo::new(0, 2, 0).buffer_words(), 0);
        assert_eq!(MsgInfo::new(0, 68, 0).buffer_words(), 64);
        assert_eq!(MsgInfo::buffer_word_count(MsgInfo::new(7, 68, 0).encode()), 64);
        assert_eq!(MsgInfo::buffer_word_count(MsgInfo::new(7, 3, 0).encode()), 0);
        assert_eq!(split_slot_pair(slot_pair(3, 9)), (3, 9));
        assert_eq!(BUFFER_SEND_CAPS_OFFSET, 8 + MSG_MAX_WORDS * 8);
        assert!(is_words_only(MsgInfo::new(9, 4, 0).encode()));
        assert!(is_words_only(MsgInfo::new(9, MSG_MAX_WORDS, 0).encode()));
        assert!(!is_words_only(MsgInfo::new(9, MSG_MAX_WORDS + 1, 0).encode()));
        assert!(!is_words_only(MsgInfo::new(9, 0, 1).encode()));
        assert!(!is_words_only(1 << 20));
        for word in [0, 4, 5, 128, 129, 0x1ff, 1 << 8, 1 << 31, 7 << 32 | 3] {
            assert_eq!(is_words_only(word), MsgInfo::decode(word).is_ok_and(|i| i.caps == 0), "{word:#x}");
        }
    }
}
