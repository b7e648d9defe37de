//! The real `touchpoint serve`, started as a child process for the tests that kill it
//! (`crash.rs`, `trigger_crash.rs`): on port 0, its address read from the line it prints.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Start `binary serve` (a `touchpoint` command with its environment set) on port 0 for
/// the data directory `dir`, and return it with the address it listens on.
pub fn serve(mut binary: Command, dir: &std::path::Path) -> (Child, String) {
    let mut child = binary
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").expect("the server says where it listens").to_string();
    (child, addr)
}
