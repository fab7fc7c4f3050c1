#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fieldkit::fuzz_targets::age_bundle_verify(data));
