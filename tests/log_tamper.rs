//! Tampering: flipping any byte of any file of a small log is detected by `log verify` with a
//! typed error — never a panic, never a pass.

mod common;

use common::{batch, node_key, open, publisher_key, quad, small_segments};
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::keys;
use ledgraph::log::LogError;
use ledgraph::log::verify::{VerifyOptions, verify_log};

fn verify_as_the_cli_does(data: &std::path::Path) -> Result<(), LogError> {
    let verifier = keys::load_verifier(data)?;
    verify_log(data, &verifier, &VerifyOptions::default()).map(|_| ())
}

#[test]
fn flipping_any_byte_of_a_small_log_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), small_segments());
    for i in 0..6 {
        log.append(batch(i * 3, 3)).unwrap();
    }
    let publisher = publisher_key();
    let changes = vec![(Op::Add, quad(100)), (Op::Remove, quad(0))];
    log.append(
        Batch::signed(ActorKey(publisher.public_key()), changes, |m| {
            publisher.sign(m)
        })
        .unwrap(),
    )
    .unwrap();
    log.close().unwrap();
    verify_as_the_cli_does(dir.path()).unwrap();

    let mut checked = 0;
    for file in common::files_under(dir.path()) {
        let original = std::fs::read(&file).unwrap();
        for offset in 0..original.len() {
            for mask in [0x01u8, 0x80] {
                let mut tampered = original.clone();
                tampered[offset] ^= mask;
                std::fs::write(&file, &tampered).unwrap();
                let result = verify_as_the_cli_does(dir.path());
                assert!(
                    result.is_err(),
                    "flipping {mask:#04x} at {}:{offset} went unnoticed",
                    file.display()
                );
                checked += 1;
            }
        }
        std::fs::write(&file, &original).unwrap();
    }
    verify_as_the_cli_does(dir.path()).unwrap();
    eprintln!("{checked} single-byte flips, all detected");
}

#[test]
fn a_rewritten_history_does_not_extend_a_checkpoint_the_client_saw() {
    // Even the node's own key cannot rewrite history unnoticed: a client holding an earlier
    // checkpoint passes it as trusted, and the rewritten log cannot produce its root.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (log, _) = open(data, ledgraph::log::LogConfig::default());
    let seen = log.append(batch(0, 4)).unwrap().checkpoint.note.clone();
    log.close().unwrap();
    std::fs::remove_dir_all(data.join("log")).unwrap();
    let (log, _) = open(data, ledgraph::log::LogConfig::default());
    let mut forged = batch(0, 4);
    forged.changes[2].1 = quad(99);
    log.append(forged).unwrap();
    log.append(batch(4, 1)).unwrap();
    log.close().unwrap();
    let options = VerifyOptions {
        trusted_checkpoint: Some(&seen),
        ..VerifyOptions::default()
    };
    let err = verify_log(data, &node_key().verifier(), &options).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains("does not extend"), "{err}");
}
