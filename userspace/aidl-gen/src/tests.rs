//! What the generator refuses, and how it names and numbers. That the generated code
//! compiles and round-trips every construct is tested in `legacy-aidl` (`tests-aidl/`).

use super::*;

fn gen(files: &[(&str, &str)]) -> Result<String, String> {
    generate(&files.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect::<Vec<_>>())
}

#[test]
fn names_become_rust_names() {
    assert_eq!(snake("getCurrent"), "get_current");
    assert_eq!(snake("IWeatherService"), "i_weather_service");
    assert_eq!(snake("temperatureTenths"), "temperature_tenths");
    assert_eq!(snake("listURLs"), "list_ur_ls");
    assert_eq!(snake("id"), "id");
}

#[test]
fn explicit_codes_count_from_first_call() {
    let code = gen(&[("a.aidl", "package p; interface IA { void x() = 0; void y() = 7; }")]).unwrap();
    assert!(code.contains("pub const X: u32 = 1;"), "{code}");
    assert!(code.contains("pub const Y: u32 = 8;"), "{code}");
    assert!(code.contains("pub const DESCRIPTOR: &str = \"p.IA\";"));
}

#[test]
fn what_is_not_supported_is_refused_by_name() {
    let refused = [
        ("package p; interface IA { void x(out int[] a); }", "the out argument"),
        ("package p; interface IA { void x(inout int[] a); }", "the inout argument"),
        ("package p; interface IA { IBinder x(); }", "returning a binder"),
        ("package p; interface IA { void x(in Map m); }", "the type Map"),
        ("package p; interface IA { const int K = 1; void x(); }", "a constant in IA"),
        ("package p; interface IA { oneway int x(); }", "return type"),
        ("package p; parcelable P { int a = 3; }", "the default value of P.a"),
        ("package p; enum E { A, B }", "enums are not supported"),
        ("package p; interface IA { void x(in float[] f); }", "an array of float"),
    ];
    for (text, says) in refused {
        let e = gen(&[("a.aidl", text)]).expect_err(text);
        assert!(e.contains(says) && e.starts_with("a.aidl"), "{text}: {e}");
    }
    let e = gen(&[("b.aidl", "package p; interface IA { void x( }")]).unwrap_err();
    assert!(e.starts_with("b.aidl:"), "a syntax error names the file and line: {e}");
}
