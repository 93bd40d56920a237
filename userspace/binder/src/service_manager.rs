//! `android.os.IServiceManager`'s transaction codes. They are not stable across releases:
//! methods were added in the middle of the interface, which moved the codes after them
//! (binder-facts.md §4, counted from each release's AIDL). Seam speaks Android 14's
//! numbering (also that of 15 up to r5); 15 r6 and 16 inserted `getService2` and
//! `checkService2`, which are not here.

use crate::parcel::Android;

/// The interface descriptor of handle 0.
pub const DESCRIPTOR: &str = "android.os.IServiceManager";

/// `IServiceManager.DUMP_FLAG_PRIORITY_DEFAULT`, and all the priorities.
pub const DUMP_FLAG_PRIORITY_DEFAULT: i32 = 8;
pub const DUMP_FLAG_PRIORITY_ALL: i32 = 15;

/// The callback interface `registerForNotifications` takes; `onRegistration(name, binder)`
/// is its first call, oneway.
pub const SERVICE_CALLBACK_DESCRIPTOR: &str = "android.os.IServiceCallback";

/// A method of IServiceManager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    GetService,
    CheckService,
    AddService,
    ListServices,
    RegisterForNotifications,
    UnregisterForNotifications,
    IsDeclared,
    GetDeclaredInstances,
    UpdatableViaApex,
    GetUpdatableNames,
    GetConnectionInfo,
    RegisterClientCallback,
    TryUnregisterService,
    GetServiceDebugInfo,
}

impl Method {
    pub const ALL: [Method; 14] = [
        Method::GetService,
        Method::CheckService,
        Method::AddService,
        Method::ListServices,
        Method::RegisterForNotifications,
        Method::UnregisterForNotifications,
        Method::IsDeclared,
        Method::GetDeclaredInstances,
        Method::UpdatableViaApex,
        Method::GetUpdatableNames,
        Method::GetConnectionInfo,
        Method::RegisterClientCallback,
        Method::TryUnregisterService,
        Method::GetServiceDebugInfo,
    ];

    /// The methods of `android`'s AIDL interface, in declaration order: the `n`th has code
    /// `n + 1`. Before Android 11 the interface was not AIDL, and had only the first four
    /// (GET 1, CHECK 2, ADD 3, LIST 4), with other arguments.
    fn order(android: Android) -> &'static [Method] {
        use Method::*;
        match android {
            Android::V9 | Android::V10 => &[GetService, CheckService, AddService, ListServices],
            Android::V11 => &[
                GetService,
                CheckService,
                AddService,
                ListServices,
                RegisterForNotifications,
                UnregisterForNotifications,
                IsDeclared,
                RegisterClientCallback,
                TryUnregisterService,
            ],
            Android::V12 => &[
                GetService,
                CheckService,
                AddService,
                ListServices,
                RegisterForNotifications,
                UnregisterForNotifications,
                IsDeclared,
                GetDeclaredInstances,
                UpdatableViaApex,
                RegisterClientCallback,
                TryUnregisterService,
                GetServiceDebugInfo,
            ],
            Android::V13 => &[
                GetService,
                CheckService,
                AddService,
                ListServices,
                RegisterForNotifications,
                UnregisterForNotifications,
                IsDeclared,
                GetDeclaredInstances,
                UpdatableViaApex,
                GetConnectionInfo,
                RegisterClientCallback,
                TryUnregisterService,
                GetServiceDebugInfo,
            ],
            Android::V14 => &Method::ALL,
        }
    }

    /// The transaction code of this method in `android`; None if that release lacks it.
    pub fn code(self, android: Android) -> Option<u32> {
        Method::order(android).iter().position(|&m| m == self).map(|i| i as u32 + 1)
    }

    /// The method a transaction code names in `android`.
    pub fn from_code(code: u32, android: Android) -> Option<Method> {
        let i = usize::try_from(code.checked_sub(1)?).ok()?;
        Method::order(android).get(i).copied()
    }
}

/// Whether `name` is a valid service name: 1 to 127 characters of `[A-Za-z0-9_./-]`
/// (servicemanager's `isValidServiceName`).
pub fn is_valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_per_release_match_the_table() {
        // (method, A11, A12, A13, A14) from binder-facts.md §4; 0 where the release lacks it.
        let table: [(Method, [u32; 4]); 14] = [
            (Method::GetService, [1, 1, 1, 1]),
            (Method::CheckService, [2, 2, 2, 2]),
            (Method::AddService, [3, 3, 3, 3]),
            (Method::ListServices, [4, 4, 4, 4]),
            (Method::RegisterForNotifications, [5, 5, 5, 5]),
            (Method::UnregisterForNotifications, [6, 6, 6, 6]),
            (Method::IsDeclared, [7, 7, 7, 7]),
            (Method::GetDeclaredInstances, [0, 8, 8, 8]),
            (Method::UpdatableViaApex, [0, 9, 9, 9]),
            (Method::GetUpdatableNames, [0, 0, 0, 10]),
            (Method::GetConnectionInfo, [0, 0, 10, 11]),
            (Method::RegisterClientCallback, [8, 10, 11, 12]),
            (Method::TryUnregisterService, [9, 11, 12, 13]),
            (Method::GetServiceDebugInfo, [0, 12, 13, 14]),
        ];
        for (method, codes) in table {
            for (android, want) in [Android::V11, Android::V12, Android::V13, Android::V14].into_iter().zip(codes) {
                let want = (want != 0).then_some(want);
                assert_eq!(method.code(android), want, "{method:?} on {android:?}");
                if let Some(code) = want {
                    assert_eq!(Method::from_code(code, android), Some(method));
                }
            }
        }
        assert_eq!(Method::AddService.code(Android::V10), Some(3));
        assert_eq!(Method::IsDeclared.code(Android::V10), None);
        assert_eq!(Method::from_code(0, Android::V14), None);
        assert_eq!(Method::from_code(15, Android::V14), None);
        assert_eq!(Method::from_code(u32::MAX, Android::V14), None);
    }

    #[test]
    fn service_names() {
        for ok in ["foo", "android.hardware.light.ILights/default", "a-b_c.d", &"n".repeat(127)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "has space", "ümlaut", &"n".repeat(128), "semi;colon"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
