//! The `binder` crate's client side against compat's core (`common`): the ServiceManager,
//! calls and identities, nested callbacks, oneway order, deaths, releases.

mod common;

use binder::client::{Call, DeathRecipient, Process, Refused, Service, ServiceCallback, SpIBinder};
use binder::codes::{FIRST_CALL, FLAG_ONEWAY};
use binder::service_manager::DUMP_FLAG_PRIORITY_DEFAULT;
use binder::{Android, Exception, Parcel, Status, StatusCode};
use common::*;
use compat_core::driver::ClientId;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

const ECHO: &str = "seam.test.IEcho";

/// A service hosted by a program: code 1 answers the caller's uid and pid and the text
/// sent; code 2 calls the callback it is given, two-way, with the text, and answers what
/// the callback answered; code 3 (oneway) records a number.
struct Echo {
    seen: Arc<Mutex<Vec<i32>>>,
}

impl Service for Echo {
    fn descriptor(&self) -> &str {
        ECHO
    }

    fn on_transact(&self, call: &Call, code: u32, data: &mut Parcel, reply: &mut Parcel) -> Result<(), StatusCode> {
        data.enforce_interface(ECHO)?;
        match code {
            1 => {
                let text = data.read_string16()?;
                reply.write_i32(call.process.calling_uid() as i32);
                reply.write_i32(call.process.calling_pid() as i32);
                reply.write_string16(text.as_deref());
            }
            2 => {
                let callback = call.process.read_strong_binder(data)?.ok_or(StatusCode::UnexpectedNull)?;
                let text = data.read_string16()?;
                let mut p = call.process.parcel();
                p.write_interface_token("seam.test.ICallback");
                p.write_string16(text.as_deref());
                let mut answer = callback.transact(FIRST_CALL, &p, 0)?;
                reply.write_string16(answer.read_string16()?.as_deref());
            }
            3 => {
                assert_eq!(call.flags & FLAG_ONEWAY, FLAG_ONEWAY);
                assert_eq!(call.process.calling_pid(), 0, "a oneway call's pid is 0");
                self.seen.lock().unwrap().push(data.read_i32()?);
            }
            _ => return Err(StatusCode::UnknownTransaction),
        }
        Ok(())
    }
}

/// A callback an app hosts: it answers the text it is given, shouted.
struct Shout;

impl Service for Shout {
    fn descriptor(&self) -> &str {
        "seam.test.ICallback"
    }

    fn on_transact(&self, _: &Call, _: u32, data: &mut Parcel, reply: &mut Parcel) -> Result<(), StatusCode> {
        data.enforce_interface("seam.test.ICallback")?;
        let text = data.read_string16()?.unwrap_or_default();
        reply.write_string16(Some(&text.to_uppercase()));
        Ok(())
    }
}

fn echo_call(p: &Rc<Process>, echo: &SpIBinder, text: &str) -> Result<(i32, i32, String), StatusCode> {
    let mut data = p.parcel();
    data.write_interface_token(ECHO);
    data.write_string16(Some(text));
    let mut r = echo.transact(1, &data, 0)?;
    Ok((r.read_i32()?, r.read_i32()?, r.read_string16()?.unwrap_or_default()))
}

/// A system server on a thread of its own that hosts Echo, registered as "echo", and serves
/// until its process is killed. The numbers its oneway calls recorded come out through the
/// returned list.
fn echo_server(w: &World, client: ClientId) -> (JoinHandle<StatusCode>, Arc<Mutex<Vec<i32>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (w, s) = (w.clone(), seen.clone());
    let (up, is_up) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let server = program(&w, client, SYSTEM_UID, Android::V14);
        let binder = server.add_local(Rc::new(Echo { seen: s }));
        server.service_manager().add_service("echo", &binder, false, DUMP_FLAG_PRIORITY_DEFAULT).unwrap();
        up.send(()).unwrap();
        server.join_thread_pool()
    });
    is_up.recv().unwrap();
    (thread, seen)
}

#[test]
fn service_manager_operations_and_refusals() {
    let w = world();
    let _server = echo_server(&w, 1);
    let app = program(&w, 2, APP_UID, Android::V14);
    let sm = app.service_manager();
    assert!(sm.check_service("echo").unwrap().is_some());
    assert!(sm.get_service("echo").unwrap().is_some());
    assert_eq!(sm.check_service("nothing").unwrap(), None, "a missing service is a null binder");
    assert_eq!(sm.list_services(DUMP_FLAG_PRIORITY_DEFAULT).unwrap(), vec!["echo".to_string()]);
    assert_eq!(sm.is_declared("echo"), Ok(false));
    // An app may not add a service.
    let mine = app.add_local(Rc::new(Shout));
    match sm.add_service("mine", &mine, false, DUMP_FLAG_PRIORITY_DEFAULT) {
        Err(Refused::Exception(s)) => assert_eq!(s.exception, Exception::Security),
        other => panic!("{other:?}"),
    }
    // A bad name, from a system uid.
    let system = program(&w, 3, SYSTEM_UID, Android::V14);
    let shout = system.add_local(Rc::new(Shout));
    let s = system.service_manager().add_service("bad name!", &shout, false, DUMP_FLAG_PRIORITY_DEFAULT);
    assert!(matches!(s, Err(Refused::Exception(Status { exception: Exception::IllegalArgument, .. }))), "{s:?}");
    // PING and INTERFACE on a program's binder; an unknown code.
    let echo = sm.check_service("echo").unwrap().unwrap();
    assert_eq!(echo.ping(), Ok(()));
    assert_eq!(echo.interface_descriptor().as_deref(), Ok(ECHO));
    let mut data = app.parcel();
    data.write_interface_token(ECHO);
    assert_eq!(echo.transact(99, &data, 0).map(drop), Err(StatusCode::UnknownTransaction));
}

#[test]
fn calls_carry_the_callers_identity_and_nest_through_callbacks() {
    let w = world();
    let _server = echo_server(&w, 1);
    let app = program(&w, 2, APP_UID, Android::V14);
    let echo = app.service_manager().get_service("echo").unwrap().unwrap();
    assert_eq!(echo_call(&app, &echo, "hello"), Ok((APP_UID as i32, 102, "hello".into())));
    // The service calls back into the app while the app waits for its reply.
    let shout = app.add_local(Rc::new(Shout));
    let mut data = app.parcel();
    data.write_interface_token(ECHO);
    data.write_strong_binder(Some(shout.as_binder()));
    data.write_string16(Some("quiet"));
    let mut r = echo.transact(2, &data, 0).unwrap();
    assert_eq!(r.read_string16().unwrap().as_deref(), Some("QUIET"));
    // A Parcel larger than a message goes through the Frame, both ways.
    let long = "x".repeat(5000);
    assert_eq!(echo_call(&app, &echo, &long).unwrap().2, long);
}

#[test]
fn oneway_calls_arrive_in_order() {
    let w = world();
    let (_server, seen) = echo_server(&w, 1);
    let app = program(&w, 2, APP_UID, Android::V14);
    let echo = app.service_manager().get_service("echo").unwrap().unwrap();
    for i in 0..1000 {
        let mut data = app.parcel();
        data.write_interface_token(ECHO);
        data.write_i32(i);
        // Compat queues at most its limit for a receiver: a full queue says so, and the
        // sender tries again, as an Android app's oneway calls would block.
        while echo.transact(3, &data, FLAG_ONEWAY) == Err(StatusCode::FailedTransaction) {
            std::thread::yield_now();
        }
    }
    assert!(eventually(|| seen.lock().unwrap().len() == 1000));
    assert_eq!(*seen.lock().unwrap(), (0..1000).collect::<Vec<_>>());
}

#[test]
fn deaths_are_told_once_and_calls_to_the_dead_fail() {
    let w = world();
    let (server, _) = echo_server(&w, 1);
    let app = program(&w, 2, APP_UID, Android::V14);
    let echo = app.service_manager().get_service("echo").unwrap().unwrap();
    let told = Rc::new(Cell::new(0));
    let t = told.clone();
    let recipient: Rc<dyn DeathRecipient> = Rc::new(move || t.set(t.get() + 1));
    echo.link_to_death(recipient.clone()).unwrap();
    w.kill(1);
    assert_eq!(server.join().unwrap(), StatusCode::DeadObject, "the server's wait ends");
    app.poll().unwrap();
    assert_eq!(told.get(), 1);
    assert_eq!(app.obituaries(), 1);
    assert_eq!(echo_call(&app, &echo, "anyone?"), Err(StatusCode::DeadObject));
    // Linking to the dead tells at once; the name is gone from the ServiceManager.
    echo.link_to_death(recipient).unwrap();
    assert_eq!(told.get(), 2);
    app.poll().unwrap();
    assert_eq!(told.get(), 2, "once per link");
    assert_eq!(app.service_manager().check_service("echo").unwrap(), None);
}

#[test]
fn clients_of_different_releases_share_a_service() {
    let w = world();
    let _server = echo_server(&w, 1);
    for (client, android) in [(2, Android::V10), (3, Android::V11), (4, Android::V12), (5, Android::V13)] {
        let app = program(&w, client, APP_UID + client, android);
        let sm = app.service_manager();
        let echo = sm.get_service("echo").unwrap().unwrap();
        assert_eq!(echo_call(&app, &echo, "hi"), Ok(((APP_UID + client) as i32, 100 + client as i32, "hi".into())));
        assert_eq!(sm.list_services(DUMP_FLAG_PRIORITY_DEFAULT).unwrap(), vec!["echo".to_string()], "{android:?}");
        assert_eq!(sm.check_service("nothing").unwrap(), None, "{android:?}");
    }
}

#[test]
fn notifications_come_for_names_registered_later() {
    struct Heard(RefCell<Vec<String>>);
    impl ServiceCallback for Heard {
        fn on_registration(&self, name: &str, binder: SpIBinder) {
            assert!(binder.ping().is_ok());
            self.0.borrow_mut().push(name.to_string());
        }
    }
    let w = world();
    let app = program(&w, 2, APP_UID, Android::V14);
    let heard = Rc::new(Heard(RefCell::new(Vec::new())));
    app.service_manager().register_for_notifications("echo", heard.clone()).unwrap();
    let _server = echo_server(&w, 1);
    assert!(eventually(|| {
        app.poll().unwrap();
        !heard.0.borrow().is_empty()
    }));
    assert_eq!(*heard.0.borrow(), vec!["echo".to_string()]);
}

#[test]
fn references_go_when_the_proxies_do() {
    let w = world();
    let _server = echo_server(&w, 1);
    let app = program(&w, 2, APP_UID, Android::V14);
    let baseline = w.counts();
    for _ in 0..10 {
        let echo = app.service_manager().get_service("echo").unwrap().unwrap();
        echo_call(&app, &echo, "x").unwrap();
    }
    // The next call releases what no proxy holds.
    app.service_manager().is_declared("echo").unwrap();
    assert_eq!(w.counts(), baseline);
}
