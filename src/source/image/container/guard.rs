//! A fence around the third-party container readers (`ewf`, `vmdk-core`, `vhdx-core`):
//! a panic inside one of them while it parses hostile bytes becomes an error naming the
//! reader and what it was doing, instead of ending the whole run.
//!
//! Why `catch_unwind` at all (the last resort the team rules allow, with this note): these
//! crates are young, single-author and parse structures fieldkit does not control. We read
//! their code, feed them truncated and mutated containers in our tests, and found no panic
//! — but they index slices and subtract header fields in places we cannot prove safe for
//! every input, and a first responder's collection must not die on one corrupt VMDK. Our own
//! parsers (raw, split raw, VHD, MBR, GPT, the EWF chunk decoder) never rely on this fence.
//!
//! Must never: swallow a panic silently (the caller turns it into an error that says
//! "internal failure of the X reader"), or be used around fieldkit's own code.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    /// Set while this thread runs inside [`fenced`]; the panic hook stays quiet then.
    static FENCED: Cell<bool> = const { Cell::new(false) };
}

/// Run `call` (a call into a third-party reader), turning a panic into `Err(message)`.
pub fn fenced<R>(call: impl FnOnce() -> R) -> Result<R, String> {
    install_quiet_hook();
    let outer = FENCED.with(|f| f.replace(true));
    let result = catch_unwind(AssertUnwindSafe(call));
    FENCED.with(|f| f.set(outer));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string())
    })
}

/// The default hook would print "thread panicked at …" (and a backtrace when
/// RUST_BACKTRACE is set) for a panic we turn into an ordinary error; inside the fence
/// it prints nothing, and every other panic goes to the previous hook unchanged.
fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !FENCED.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_the_fence_is_an_error_with_its_message() {
        let r: Result<u32, String> = fenced(|| {
            let v: Vec<u32> = Vec::new();
            let i = v.len() + 3;
            v[i]
        });
        let msg = r.unwrap_err();
        assert!(msg.contains("index out of bounds"), "{msg}");
        assert_eq!(fenced(|| 7).unwrap(), 7);
    }
}
