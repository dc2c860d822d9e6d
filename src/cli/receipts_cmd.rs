//! `ledgraph receipts verify`: re-executes every kernel step recorded in the local log with the
//! descriptor that was active at its position, and checks that each recorded derived
//! transaction (derived triples and `lg:Receipt`) is reproduced exactly. Exit code 3 on a
//! mismatch, like the other verifications.

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
