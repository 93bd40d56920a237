//! Memory: physical frames, the kernel's virtual layout, page tables and the kernel heap.
pub mod frame;
pub mod layout;
pub mod regions;
