#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fieldkit::fuzz_targets::fs_ntfs(data));
