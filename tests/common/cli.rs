//! Running the `ledgraph` binary on a data directory, and reading what it printed.

use std::path::Path;
use std::process::{Command, Output};

pub fn ledgraph(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgraph"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("LEDGRAPH_DATA")
        .output()
        .expect("run ledgraph")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr with the temporary directory replaced, for snapshots.
pub fn stderr(o: &Output, dir: &Path) -> String {
    String::from_utf8_lossy(&o.stderr).replace(&dir.display().to_string(), "[DIR]")
}
