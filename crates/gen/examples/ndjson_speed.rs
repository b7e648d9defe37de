//! Measures how fast the generator writes NDJSON to a file, single-threaded — the promise
//! is at least a million events a second with a release build.
//!
//! `cargo run --release -p touchpoint-gen --example ndjson_speed -- [events] [path]`

use std::time::Instant;
use touchpoint_gen::{GenConfig, Generator};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let path = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("touchpoint-gen-speed.ndjson"));
    let gen = Generator::new(GenConfig::for_events(events, 42));
    if path.as_os_str() == "-" {
        let started = Instant::now();
        let n = gen.write_ndjson(std::io::sink(), |_| {})?;
        let secs = started.elapsed().as_secs_f64();
        println!("{n} events to a sink in {secs:.2} s: {:.2} M events/s", n as f64 / secs / 1e6);
        return Ok(());
    }
    let file = std::fs::File::create(&path)?;
    let started = Instant::now();
    let n = gen.write_ndjson(file, |_| {})?;
    let secs = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "{n} events, {} customers, {:.1} MB in {secs:.2} s: {:.2} M events/s, {:.0} MB/s -> {}",
        gen.config().customers,
        bytes as f64 / 1e6,
        n as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6,
        path.display()
    );
    if std::env::var_os("KEEP").is_none() {
        std::fs::remove_file(&path)?;
    }
    Ok(())
}
