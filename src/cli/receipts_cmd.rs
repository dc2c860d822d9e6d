//! `ledgraph receipts verify`: re-executes every kernel step recorded in the local log with the
//! descriptor that was active at its position, and checks that each recorded derived
//! transaction (derived triples and `lg:Receipt`) is reproduced exactly. Exit code 3 on a
//! mismatch, like the other verifications. Against a running server it reads the log read-only,
//! up to the server's last stored checkpoint (at most about one second behind when idle).

use std::path::Path;

use clap::Subcommand;

use super::verify_remote::VerifyFailed;
use crate::kernel::follow;

#[derive(Subcommand, Debug)]
pub enum ReceiptsCommand {
    /// Re-execute the kernel over the log and compare with every recorded receipt.
    Verify,
}

pub fn run(data: &Path, cmd: ReceiptsCommand) -> anyhow::Result<()> {
    match cmd {
        ReceiptsCommand::Verify => {
            let log = super::open_for_reading(data)?;
            if let super::Opened::Reader(reader) = &log {
                // A running server holds the log: its last stored checkpoint is what another
                // process can read (stored at least every second of activity and when idle).
                eprintln!(
                    "note: a server holds {}; verifying the {} events of its last stored checkpoint",
                    data.display(),
                    reader.size()
                );
            }
            let v = follow::verify(&log)?;
            println!(
                "{} transactions, {} receipts reproduced, {} inputs without a receipt yet",
                v.transactions,
                v.receipts_checked,
                v.missing.len()
            );
            if let Some(first) = v.mismatches.first() {
                for m in &v.mismatches {
                    eprintln!("mismatch: {m}");
                }
                return Err(VerifyFailed(format!(
                    "{} receipts differ from the re-execution (first: {first})",
                    v.mismatches.len()
                ))
                .into());
            }
            Ok(())
        }
    }
}
