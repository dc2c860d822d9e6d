//! The `ledgraph` binary: a thin edge over the library's CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    ledgraph::cli::main()
}
