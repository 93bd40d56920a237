//! The generated code on every construct aidl-gen supports (`tests-aidl/`): a proxy's call
//! goes through the real wire codec (`binder::client`, `ipc::proto::compat`) to a loopback
//! that hands it to the generated `on_transact` of a service, and the answer comes back.

extern crate std;

#[allow(dead_code, clippy::all)]
mod everything {
    include!(concat!(env!("OUT_DIR"), "/tests_aidl.rs"));
}

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use binder::client::{Channel, Process, Refused, SpIBinder};
use binder::{Android, Binder, Exception, Parcel, Status, StatusCode};
use core::cell::RefCell;
use everything::i_everything::{self, IEverything, Proxy};
use everything::Item;
use ipc::proto::compat::{self as proto, Answer, Request};
use ipc::proto::Long;

/// A service that hands back what it was given, and keeps what it heard.
#[derive(Default)]
struct Everything {
    fired: Vec<i32>,
    listened: Vec<(Binder, Binder)>,
}

impl IEverything for Everything {
    fn numbers(&mut self, b: bool, y: i8, c: u16, i: i32, l: i64, f: f32, d: f64) -> Result<i32, Status> {
        Ok(i32::from(b) + i32::from(y) + i32::from(c) + i + l as i32 + f as i32 + d as i32)
    }
    fn strings(&mut self, s: String, n: Option<String>) -> Result<String, Status> {
        Ok(alloc::format!("{s}/{}", n.as_deref().unwrap_or("null")))
    }
    fn maybe(&mut self, give: bool) -> Result<Option<String>, Status> {
        Ok(give.then(|| "given".to_string()))
    }
    fn bytes(&mut self, b: Vec<u8>) -> Result<Vec<u8>, Status> {
        Ok(b.iter().rev().copied().collect())
    }
    fn ints(&mut self, i: Vec<i32>) -> Result<Vec<i32>, Status> {
        Ok(i.iter().map(|x| x * 2).collect())
    }
    fn longs(&mut self, l: Vec<i64>) -> Result<Vec<i64>, Status> {
        Ok(l)
    }
    fn bools(&mut self, b: Vec<bool>) -> Result<Vec<bool>, Status> {
        Ok(b.iter().map(|x| !x).collect())
    }
    fn texts(&mut self, s: Vec<String>) -> Result<Vec<String>, Status> {
        Ok(s.iter().map(|t| t.to_uppercase()).collect())
    }
    fn item(&mut self, i: Item) -> Result<Item, Status> {
        Ok(Item { id: i.id + 1, ..i })
    }
    fn items(&mut self, i: Vec<Item>) -> Result<Vec<Item>, Status> {
        Ok(i.into_iter().rev().collect())
    }
    fn list(&mut self, i: Vec<Item>) -> Result<Vec<Item>, Status> {
        Ok(i)
    }
    fn listen(&mut self, l: Binder, b: Binder) -> Result<(), Status> {
        self.listened.push((l, b));
        Ok(())
    }
    fn fire(&mut self, n: i32) -> Result<(), Status> {
        self.fired.push(n);
        Ok(())
    }
    fn fail(&mut self, code: i32) -> Result<(), Status> {
        Err(Status::service_specific(code, "as asked"))
    }
    fn after(&mut self) -> Result<(), Status> {
        Ok(())
    }
}

/// (code, flags, data bytes) of each transaction a [`Loopback`] carried.
type Sent = Rc<RefCell<Vec<(u32, u32, Vec<u8>)>>>;

/// A channel whose other end is the service itself: each transaction's Parcel (with its
/// objects) goes to `on_transact` and the reply comes back, as compat would carry them.
struct Loopback {
    service: Rc<RefCell<Everything>>,
    sent: Sent,
}

impl Channel for Loopback {
    fn call(&mut self, m: &Long) -> Result<Long, ipc::Error> {
        let (request, _) = proto::decode(m).map_err(|_| ipc::Error::InvalidArgument)?;
        let Request::Transact { code, flags, .. } = request else {
            return Ok(match request {
                Request::Connect { .. } => proto::connected(10_001, 7),
                _ => proto::answer(Answer::Done),
            });
        };
        let (mut data, mut offsets) = (vec![0u8; proto::PARCEL_MAX], vec![0u32; proto::OBJECTS_MAX]);
        let h = proto::read_parcel(m, proto::TRANSACT_PARCEL_AT, &mut data, &mut offsets).expect("in the message");
        let data = &data[..h.len as usize];
        let offsets: Vec<usize> = offsets[..usize::from(h.objects)].iter().map(|&o| o as usize).collect();
        self.sent.borrow_mut().push((code, flags, data.to_vec()));
        let mut parcel = Parcel::from_parts(data, &offsets, Android::V14).expect("good offsets");
        let mut reply = Parcel::for_android(Android::V14);
        let result = i_everything::on_transact(&mut *self.service.borrow_mut(), code, &mut parcel, &mut reply);
        Ok(match result {
            Err(s) => proto::answer(Answer::Status(s as i32)),
            Ok(()) if flags & binder::codes::FLAG_ONEWAY != 0 => proto::answer(Answer::Done),
            Ok(()) => {
                let mut m = proto::answer(Answer::Reply { android: 14 });
                let offsets: Vec<u32> = reply.objects().iter().map(|&o| o as u32).collect();
                assert!(proto::push_parcel(&mut m, reply.data(), &offsets), "small replies");
                m
            }
        })
    }

    fn frame(&mut self) -> Option<&mut [u8]> {
        None
    }
}

fn setup() -> (Rc<Process>, Proxy, Rc<RefCell<Everything>>, Sent) {
    let service = Rc::new(RefCell::new(Everything::default()));
    let sent = Rc::new(RefCell::new(Vec::new()));
    let channel = Loopback { service: service.clone(), sent: sent.clone() };
    let process = Process::connect(Box::new(channel), Android::V14).unwrap();
    // Handle 1 stands for the service: the loopback serves every handle.
    let mut p = Parcel::for_android(Android::V14);
    p.write_strong_binder(Some(Binder::Handle(1)));
    p.set_data_position(0);
    let binder = process.read_strong_binder(&mut p).unwrap().unwrap();
    (process, Proxy(binder), service, sent)
}

#[test]
fn every_construct_goes_and_comes_back() {
    let (process, e, service, _) = setup();
    assert_eq!(e.numbers(true, -2, 3, 4, 5, 6.5, 7.5), Ok(1 - 2 + 3 + 4 + 5 + 6 + 7));
    assert_eq!(e.strings("a", None).as_deref(), Ok("a/null"));
    assert_eq!(e.strings("a", Some("b")).as_deref(), Ok("a/b"));
    assert_eq!(e.maybe(true), Ok(Some("given".into())));
    assert_eq!(e.maybe(false), Ok(None));
    assert_eq!(e.bytes(&[1, 2, 3]), Ok(vec![3, 2, 1]));
    assert_eq!(e.ints(&[1, -2]), Ok(vec![2, -4]));
    assert_eq!(e.longs(&[i64::MIN, 0]), Ok(vec![i64::MIN, 0]));
    assert_eq!(e.bools(&[true, false]), Ok(vec![false, true]));
    assert_eq!(e.texts(&["x".into(), "yz".into()]), Ok(vec!["X".into(), "YZ".into()]));
    let item = Item { id: 1, name: "one".into(), values: vec![1, 2] };
    assert_eq!(e.item(&item), Ok(Item { id: 2, ..item.clone() }));
    let two = Item { id: 2, name: "two".into(), values: vec![] };
    assert_eq!(e.items(&[item.clone(), two.clone()]), Ok(vec![two.clone(), item.clone()]));
    assert_eq!(e.list(core::slice::from_ref(&item)), Ok(vec![item.clone()]));
    let mine: SpIBinder = e.0.clone();
    assert_eq!(e.listen(&mine, &mine), Ok(()));
    assert_eq!(service.borrow().listened, vec![(Binder::Handle(1), Binder::Handle(1))]);
    assert_eq!(e.fire(9), Ok(()));
    assert_eq!(service.borrow().fired, vec![9]);
    match e.fail(42) {
        Err(Refused::Exception(s)) => assert_eq!((s.exception, s.service_code), (Exception::ServiceSpecific, 42)),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.after(), Ok(()));
    drop(process);
}

#[test]
fn codes_and_bytes_are_aidls() {
    let (_, e, _, sent) = setup();
    e.strings("hi", None).unwrap();
    e.fire(3).unwrap();
    e.fail(1).ok();
    e.after().unwrap();
    let sent = sent.borrow();
    // Codes from FIRST_CALL (1) in declaration order; oneway calls flagged.
    let codes: Vec<(u32, u32)> = sent.iter().map(|(c, f, _)| (*c, *f)).collect();
    assert_eq!(codes, vec![(2, 0), (13, binder::codes::FLAG_ONEWAY), (14, 0), (15, 0)]);
    // The token, then String16 "hi", then -1 for the null string.
    let mut want = Parcel::for_android(Android::V14);
    want.write_interface_token(i_everything::DESCRIPTOR);
    want.write_string16(Some("hi"));
    want.write_string16(None);
    assert_eq!(sent[0].2, want.data());
}

#[test]
fn a_parcelable_from_an_older_writer_keeps_defaults_and_a_newer_ones_extra_fields_are_skipped() {
    // An older Item had only `id`.
    let mut p = Parcel::for_android(Android::V14);
    p.write_i32(1);
    p.write_parcelable_body(|p| p.write_i32(5));
    // A newer one has a field after `values`.
    p.write_i32(1);
    p.write_parcelable_body(|p| {
        p.write_i32(6);
        p.write_string16(Some("six"));
        p.write_i64_array(Some(&[6]));
        p.write_i32(0x5eed);
    });
    p.write_i32(0x7a11);
    p.set_data_position(0);
    let read = |p: &mut Parcel| -> Result<Item, binder::ParcelError> {
        assert_eq!(p.read_i32()?, 1);
        <Item as everything::Parcelable>::read_body(p)
    };
    assert_eq!(read(&mut p), Ok(Item { id: 5, ..Item::default() }));
    assert_eq!(read(&mut p), Ok(Item { id: 6, name: "six".into(), values: vec![6] }));
    assert_eq!(p.read_i32(), Ok(0x7a11), "the reader is after the newer body");
}

#[test]
fn a_bad_call_is_an_error_not_a_panic() {
    let mut service = Everything::default();
    let mut reply = Parcel::for_android(Android::V14);
    let mut p = Parcel::for_android(Android::V14);
    p.write_interface_token("not.the.Interface");
    assert_eq!(i_everything::on_transact(&mut service, 1, &mut p, &mut reply), Err(StatusCode::BadType));
    for code in [0, 99, u32::MAX] {
        let mut p = Parcel::for_android(Android::V14);
        p.write_interface_token(i_everything::DESCRIPTOR);
        assert_eq!(
            i_everything::on_transact(&mut service, code, &mut p, &mut reply),
            Err(StatusCode::UnknownTransaction)
        );
    }
    // Truncated arguments.
    let mut p = Parcel::for_android(Android::V14);
    p.write_interface_token(i_everything::DESCRIPTOR);
    p.write_i32(1);
    assert!(i_everything::on_transact(&mut service, i_everything::NUMBERS, &mut p, &mut reply).is_err());
}
