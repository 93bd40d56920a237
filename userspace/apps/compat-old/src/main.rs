//! `compat-old SYSTEM_UID_EXPECTED`: a legacy app built for Android 10, beside newer ones:
//! it speaks the C servicemanager's protocol and Android 10's Parcels, calls IEcho, leaves a
//! callback with it (whose death the server then hears of), and ends. Its checks say
//! `compat-old android10: N checks, F failed`. Its argument is the uid its entry gives it.
#![no_std]
#![no_main]

extern crate alloc;

use binder::service_manager::DUMP_FLAG_PRIORITY_DEFAULT;
use binder::{Android, StatusCode};
use compat_echo::{self as echo, NAME};
use rt::check::Checks;
use rt::{println, sys};

rt::main!(main);

fn main(args: rt::Args) -> u64 {
    let mut c = Checks::new("compat-old android10");
    let uid: u32 = args.get(0).and_then(|a| a.parse().ok()).unwrap_or(0);
    let process = match binder::seam::connect(Android::V10) {
        Ok(p) => p,
        Err(e) => {
            println!("FAIL: connect: {e:?}");
            return 1;
        }
    };
    c.check("compat knows this program by its entry's uid", process.calling_uid() == uid);
    c.check("and by its pid", u64::from(process.calling_pid()) == args.pid);
    let sm = process.service_manager();
    // Android 10 has no notifications: look until the service is there.
    let mut found = None;
    for _ in 0..500 {
        if let Ok(Some(b)) = sm.check_service(NAME) {
            found = Some(b);
            break;
        }
        sys::sleep(1);
    }
    let Some(e) = found else {
        println!("FAIL: '{NAME}' never registered");
        return 1;
    };
    let answer = echo::echo(&e, "from android 10");
    c.check(
        &alloc::format!("an Android 10 call is answered with its uid and pid: {answer:?}"),
        answer == Ok((uid, args.pid as u32, "from android 10".into())),
    );
    let names = sm.list_services(DUMP_FLAG_PRIORITY_DEFAULT);
    c.check(
        &alloc::format!("listed one by one, as Android 10 did: {names:?}"),
        names.as_ref().is_ok_and(|n| n.iter().any(|n| n == NAME)),
    );
    let refused = sm.add_service("old.app", &echo::shout(&process), false, DUMP_FLAG_PRIORITY_DEFAULT);
    c.check(
        &alloc::format!("an app may not add a service (Android 10: PERMISSION_DENIED): {refused:?}"),
        refused == Err(binder::client::Refused::Transport(StatusCode::PermissionDenied)),
    );
    c.check("a missing service is null", matches!(sm.check_service("no.such.service"), Ok(None)));
    let kept = echo::call(&e, echo::KEEP, 0, |p| p.write_strong_binder(Some(echo::shout(&process).as_binder())));
    c.check("the server keeps a callback of ours (it hears when we end)", kept.is_ok());
    c.done()
}
