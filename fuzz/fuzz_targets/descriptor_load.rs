//! Arbitrary bytes fed to the descriptor loader: it must refuse or accept, never panic, and
//! whatever it accepts must render (`inspect::dump` walks every table).
#![no_main]

use ledgraph::descriptor::{AlignedBytes, Descriptor, inspect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = AlignedBytes::copy_from(data);
    if let Ok(d) = Descriptor::load(bytes.as_bytes(), None) {
        let _ = inspect::dump(&d);
    }
});
