//! The system description (`ipc::system`) as a server reads it from the boot archive, to
//! know the programs by the numbers in their badges: checked, so that every line parses and
//! the numbering is the one init used.

use crate::cap;
use alloc::string::String;
use ipc::system::{self, slots, SYSTEM_PATH};

/// The compact description, read through the Archive capability in its usual slot (the
/// program's entry says `archive = "read"`) and checked against the rules.
pub fn description() -> Result<String, &'static str> {
    let bytes = cap::read_file(slots::ARCHIVE, SYSTEM_PATH).map_err(|_| "no system description in the archive")?;
    let text = String::from_utf8(bytes).map_err(|_| "the system description is not UTF-8")?;
    system::check(&text).map_err(|_| "the system description breaks the rules")?;
    Ok(text)
}
