//! Compile tests of user code against a generated crate.

#[test]
fn generated_api_is_usable_as_documented() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
