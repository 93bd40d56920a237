//! The `store` scenario, run as a supervised program of a system that gives it a store: the
//! first instance appends records and crashes on purpose; init starts it again with the same
//! store, and the second instance must find every record the first had appended.

use alloc::format;
use rt::check::Checks;
use rt::println;
use store::Store;

const RECORDS: usize = 200;

pub fn store() -> u64 {
    let mut c = Checks::new("ipctest store");
    let mapped = rt::store::map();
    c.check("map the store", mapped.is_ok());
    let Ok(mem) = mapped else { return c.done() };
    let opened = Store::open(mem);
    c.check("open it", opened.is_ok());
    let Ok(mut log) = opened else { return c.done() };
    let had = log.records().count();
    if had == 0 {
        for i in 0..RECORDS {
            if log.append(format!("record {i}").as_bytes()).is_err() {
                println!("store: no room for record {i}");
                return 1;
            }
        }
        println!("store: {RECORDS} records appended; crashing");
        // SAFETY: none: this write to address 0 faults, which is the point.
        unsafe { core::ptr::null_mut::<u64>().write_volatile(1) };
    }
    c.check(&format!("the restarted instance finds all {RECORDS} records ({had})"), had == RECORDS);
    let in_order = log.records().enumerate().all(|(i, r)| r == format!("record {i}").as_bytes());
    c.check("each whole and in order", in_order);
    c.check("no torn record was dropped", log.dropped == 0);
    c.check("the store is mapped only once", rt::store::map().is_err());
    c.done()
}
