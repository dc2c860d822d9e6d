//! The record reader that recovery and verification use on segment and checkpoint files:
//! arbitrary file contents give records, a torn tail or a Corruption error — never a panic.
#![no_main]
use ledgraph::log::record::{Next, RecordReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), data).expect("write");
    let Ok(mut reader) = RecordReader::open(file.path(), 0) else { return };
    let mut payload = Vec::new();
    while let Ok(Next::Record { .. }) = reader.next(&mut payload) {}
});
