#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fieldkit::fuzz_targets::hashset_fkhs(data));
