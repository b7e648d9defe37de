//! The `touchpoint` binary as a person or a script uses it: projects and keys with
//! `--json`, NDJSON and CSV imports with their summaries, exports that spreadsheets open
//! safely, configuration errors, and the demo.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_touchpoint"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("TOUCHPOINT_CONFIG")
        .output()
        .unwrap()
}

/// A data directory with a project "shop" that has imported these NDJSON lines.
fn shop_with(lines: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok_json(dir.path(), &["project", "create", "shop", "--json"]);
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    ok_json(dir.path(), &["import", file.to_str().unwrap(), "--project", "shop", "--json"]);
    dir
}

/// `touchpoint serve` on `dir`, once it listens.
fn serve(dir: &Path) -> std::process::Child {
    serve_with(dir, std::process::Stdio::null())
}

/// `touchpoint serve` on `dir` (no configuration or log settings from the environment),
/// its standard error going to `stderr`, once it listens.
fn serve_with(dir: &Path, stderr: std::process::Stdio) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_touchpoint"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("TOUCHPOINT_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("TOUCHPOINT_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    child
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

/// The server runs without transparent huge pages (they cost ingest a fifth of its CPU in
/// the kernel zeroing 2 MiB pages; docs/performance.md, "Huge pages round").
#[cfg(target_os = "linux")]
#[test]
fn the_server_runs_without_transparent_huge_pages() {
    let dir = tempfile::tempdir().unwrap();
    ok_json(dir.path(), &["project", "create", "Kavárna", "--json"]);
    let mut server = serve(dir.path());
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    // Linux reports the flag since 5.0.
    let line = status.lines().find(|l| l.starts_with("THP_enabled:")).expect("THP_enabled in /proc/PID/status");
    assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
}

#[test]
fn projects_and_keys_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let p = ok_json(dir.path(), &["project", "create", "Kavárna", "--json"]);
    assert!(p["write_key"].as_str().unwrap().starts_with("tpw_"));
    assert!(p["secret_key"].as_str().unwrap().starts_with("tps_"));
    let k = ok_json(dir.path(), &["key", "create", "--project", "Kavárna", "--kind", "secret", "--json"]);
    assert!(k["key"].as_str().unwrap().starts_with("tps_"));
    let k = ok_json(dir.path(), &["key", "create", "--project", "Kavárna", "--kind", "server", "--json"]);
    assert!(k["key"].as_str().unwrap().starts_with("tpsrv_"));
    let list = ok_json(dir.path(), &["key", "list", "--project", "1", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert_eq!(list[3]["kind"], "server", "{list}");
    let out = run(dir.path(), &["project", "create", "Kavárna"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = run(dir.path(), &["key", "create", "--project", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no project \"nope\"; projects here: Kavárna"));
    let out = run(dir.path(), &["key", "create", "--project", "Kavárna", "--kind", "god"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("use write, server or secret"));
}

#[test]
fn ndjson_import_is_validated_deduplicated_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    ok_json(dir.path(), &["project", "create", "shop", "--json"]);
    let file = dir.path().join("events.ndjson");
    std::fs::write(
        &file,
        concat!(
            r#"{"type":"track","userId":"jana","event":"Order Completed","timestamp":"2026-05-01T10:00:00Z","messageId":"a"}"#, "\n",
            r#"{"type":"page","anonymousId":"x1","timestamp":"2026-05-01T09:00:00Z","properties":{"path":"/kosik"}}"#, "\n",
            "\n",
            r#"{"type":"track","userId":"jana","event":"Order Completed","timestamp":"2026-05-01T10:00:00Z","messageId":"a"}"#, "\n",
            r#"{"type":"track","event":"No one"}"#, "\n",
            r#"{"type":"track", broken"#, "\n",
            r#"{"type":"identify","userId":"jana","anonymousId":"x1","traits":{"city":"Ostrava"}}"#, "\n",
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let s = ok_json(dir.path(), &["import", f, "--project", "shop", "--json"]);
    assert_eq!(
        (s["records"].as_u64(), s["stored"].as_u64(), s["duplicates"].as_u64(), s["failed"].as_u64()),
        (Some(6), Some(3), Some(1), Some(2)),
        "{s}"
    );
    let errors: Vec<&str> = s["first_errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert!(errors[0].starts_with("line 5: userId: either userId or anonymousId"), "{errors:?}");
    assert!(errors[1].starts_with("line 6: not valid JSON"), "{errors:?}");
    // Again: events without a messageId get the same derived one, so nothing is stored twice.
    let s = ok_json(dir.path(), &["import", f, "--project", "shop", "--json"]);
    assert_eq!((s["stored"].as_u64(), s["duplicates"].as_u64()), (Some(0), Some(4)), "{s}");

    // Export and import into another project: the same events.
    let out = dir.path().join("out.ndjson");
    let o = run(dir.path(), &["export", "--project", "shop", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().any(|l| l["touchpoint"] == "cart" && l["timestamp"] == "2026-05-01T09:00:00.000Z"));
    ok_json(dir.path(), &["project", "create", "copy", "--json"]);
    let s = ok_json(dir.path(), &["import", out.to_str().unwrap(), "--project", "copy", "--json"]);
    assert_eq!(s["stored"].as_u64(), Some(3), "{s}");
}

#[test]
fn a_crm_csv_imports_without_code_and_exports_safely() {
    let dir = tempfile::tempdir().unwrap();
    ok_json(dir.path(), &["project", "create", "crm", "--json"]);
    let file = dir.path().join("crm-export.csv");
    // A Czech Excel export: BOM, semicolons, Czech headers and dates, a formula-looking note.
    std::fs::write(
        &file,
        "\u{feff}Zákazník;Datum;Kanál;Touchpoint;Poznámka\n\
         C-1001;03.04.2026 10:15;phone;Reklamace;=HYPERLINK(\"http://evil\")\n\
         C-1001;05.04.2026;email;Newsletter otevřen;\n\
         C-1002;2026-04-06;store;Návštěva prodejny;+420 777 123 456\n\
         ;2026-04-07;web;Bez zákazníka;\n\
         C-1003;31.02.2026;web;Špatné datum;\n",
    )
    .unwrap();
    let s = ok_json(dir.path(), &["import", file.to_str().unwrap(), "--project", "crm", "--json"]);
    assert_eq!((s["records"].as_u64(), s["stored"].as_u64(), s["failed"].as_u64()), (Some(5), Some(3), Some(2)), "{s}");
    let csv_out = dir.path().join("out.csv");
    let o = run(dir.path(), &["export", "--project", "crm", "--format", "csv", "--out", csv_out.to_str().unwrap()]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(&csv_out).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][2], "Reklamace");
    assert_eq!(&rows[0][9], "2026-04-03T10:15:00.000Z", "a UTC project reads local times as UTC");
    let channels: Vec<&str> = rows.iter().map(|r| &r[7]).collect();
    assert_eq!(channels, ["phone", "email", "store"], "the Kanál column sets each touchpoint's channel");
    assert!(rows[0][11].contains("HYPERLINK"), "the note is a property");
    assert!(rows[0][11].starts_with('{'));
    assert!(
        text.lines().all(|l| l.split(',').all(|cell| !cell.starts_with('=') && !cell.starts_with('+'))),
        "no cell starts a formula:\n{text}"
    );
    // Local times are the project's once it has a zone, or --timezone's.
    let o = run(dir.path(), &["project", "set", "crm", "--timezone", "Europe/Prague"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(
        &file,
        "Zákazník;Datum;Touchpoint\nC-2001;03.07.2026 10:15;Hovor\nC-2002;2026-07-03T10:15:00Z;Hovor\n",
    )
    .unwrap();
    ok_json(dir.path(), &["import", file.to_str().unwrap(), "--project", "crm", "--json"]);
    std::fs::write(&file, "Zákazník;Datum;Touchpoint\nC-2003;03.07.2026 10:15;Hovor\n").unwrap();
    ok_json(
        dir.path(),
        &["import", file.to_str().unwrap(), "--project", "crm", "--timezone", "Europe/Warsaw", "--json"],
    );
    let o = run(dir.path(), &["import", file.to_str().unwrap(), "--project", "crm", "--timezone", "Europe/Praha"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--timezone: \"Europe/Praha\" is not an IANA time zone"));
    let o = run(dir.path(), &["export", "--project", "crm", "--format", "csv"]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let at = |user: &str| text.lines().find(|l| l.contains(user)).unwrap().split(',').nth(9).unwrap().to_string();
    assert_eq!(at("C-2001"), "2026-07-03T08:15:00.000Z", "Prague summer time");
    assert_eq!(at("C-2002"), "2026-07-03T10:15:00.000Z", "a time with its offset stays");
    assert_eq!(at("C-2003"), "2026-07-03T08:15:00.000Z", "Warsaw, as asked");
    // A header nobody can guess is explained.
    std::fs::write(&file, "a,b\n1,2\n").unwrap();
    let o = run(dir.path(), &["import", file.to_str().unwrap(), "--project", "crm"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("add --column user_id=<column>. The columns are: a, b"));
    let o = run(
        dir.path(),
        &[
            "import",
            file.to_str().unwrap(),
            "--project",
            "crm",
            "--column",
            "user_id=a",
            "--column",
            "event=b",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn bad_configuration_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("touchpoint.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nqueue_evnts = 5\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_touchpoint")).args(["serve", "--config"]).arg(&cfg).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown key \"queue_evnts\""));
    let o = Command::new(env!("CARGO_BIN_EXE_touchpoint"))
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("TOUCHPOINT_DURABLE", "maybe")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("TOUCHPOINT_DURABLE"));
}

/// A folder holding one data directory, `touchpoint-data`, with a project "shop".
fn a_store_in_a_folder() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("touchpoint-data");
    ok_json(&real, &["project", "create", "shop", "--json"]);
    (root, real)
}

#[test]
fn serve_explains_a_new_store() {
    let (root, real) = a_store_in_a_folder();
    // Beside it, a directory that is not there is refused
    // (`a_mistyped_data_directory_is_named_and_not_created`), saying how to begin there.
    let new = root.path().join("new store");
    let o = run(&new, &["serve", "--listen", "127.0.0.1:0"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("beside it: touchpoint-data") && err.contains("(mkdir '"), "{err}");
    // A directory made first (or one with nothing beside it) gets a new store, said in
    // a few lines a person can act on, without the schema's log lines.
    std::fs::create_dir(&new).unwrap();
    let err = serve_and_stop(&new);
    assert!(err.contains("new, empty store") && err.contains("touchpoint project create NAME --data-dir"), "{err}");
    assert!(!err.contains("migration") && !err.contains("INFO") && err.lines().count() <= 5, "{err}");
    // A directory with a store serves without that advice.
    let err = serve_and_stop(&real);
    assert!(err.contains("listening on") && !err.contains("new, empty store"), "{err}");
}

/// Start `touchpoint serve` on `dir`, stop it once it listens, and return what it wrote
/// to standard error.
fn serve_and_stop(dir: &Path) -> String {
    let mut child = serve_with(dir, std::process::Stdio::piped());
    child.kill().unwrap();
    String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr).into_owned()
}

#[test]
fn the_demo_loads_the_brand() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("demo");
    let v = ok_json(&dir, &["demo", "--events", "20000", "--no-serve", "--json"]);
    let stored = v["events"].as_u64().unwrap();
    assert!((15_000..=25_000).contains(&stored), "{v}");
    assert!(dir.join("demo-keys.json").exists());
    assert!(v["server_key"].as_str().unwrap().starts_with("tpsrv_"), "{v}");
    // A second run wipes its own directory; a foreign one is refused.
    ok_json(&dir, &["demo", "--events", "3000", "--no-serve", "--json"]);
    let foreign = root.path().join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("precious.txt"), "x").unwrap();
    let o = run(&foreign, &["demo", "--no-serve"]);
    assert!(!o.status.success());
    assert!(foreign.join("precious.txt").exists());
}

#[test]
fn surveys_from_the_command_line_import_and_report() {
    let dir = tempfile::tempdir().unwrap();
    ok_json(dir.path(), &["project", "create", "shop", "--json"]);
    let d = dir.path();
    let create = run(d, &["survey", "create", "--project", "shop", "--key", "nps", "--template", "nps"]);
    assert!(create.status.success(), "{}", String::from_utf8_lossy(&create.stderr));
    assert!(run(d, &["survey", "publish", "--project", "shop", "--key", "nps"]).status.success());
    let list = ok_json_pretty(d, &["survey", "list", "--project", "shop", "--json"]);
    assert_eq!(list[0]["status"], "live");

    let csv = d.join("answers.csv");
    std::fs::write(
        &csv,
        "external_id,customer,touchpoint,nps,wrong,best,dim.store\n\
         r1,jana,delivery,3,\"=pozdě, a \"\"nikdo\"\" nevolal\",,Brno\n\
         r2,petr,delivery,10,,Rychlé,Praha\n\
         r3,eva,delivery,12,,,Praha\n",
    )
    .unwrap();
    let out = run(d, &["survey", "import", "--project", "shop", "--key", "nps", csv.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("3 rows: 2 responses stored, 0 already there, 1 rejected."), "{text}");
    assert!(text.contains("line 4: responses[2].answers.nps"), "the bad row is named by its line: {text}");
    let again = run(d, &["survey", "import", "--project", "shop", "--key", "nps", csv.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 responses stored, 2 already there"));

    let report =
        ok_json_pretty(d, &["report", "nps", "--project", "shop", "--survey", "nps", "--by", "store", "--json"]);
    assert_eq!(report["result"]["n"], 2);
    assert_eq!(report["result"]["score"], 0.0, "one promoter, one detractor");
    assert_eq!(report["segments"].as_array().unwrap().len(), 2);
    let (from, to) = (report["period"]["from"].as_str().unwrap(), report["period"]["to"].as_str().unwrap());
    assert!(from <= to && report["period"]["timezone"] == "UTC", "the report says its period: {report}");
    let table = run(d, &["report", "nps", "--project", "shop", "--survey", "nps"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("95 % interval"));
    assert!(
        table.contains(&format!("Answers from {} to {}; periods counted in UTC.", &from[..10], &to[..10])),
        "{table}"
    );

    let export = run(d, &["survey", "export", "--project", "shop", "--key", "nps"]);
    let exported = String::from_utf8_lossy(&export.stdout);
    assert!(exported.contains("\"'=pozdě, a \"\"nikdo\"\" nevolal\""), "formula defused: {exported}");
}

/// Run a command whose whole standard output is one JSON document.
fn ok_json_pretty(dir: &Path, args: &[&str]) -> Value {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn a_project_time_zone_is_checked_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    ok_json(dir.path(), &["project", "create", "shop", "--json"]);
    let out = run(dir.path(), &["project", "set", "shop", "--timezone", "Europe/Praha"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an IANA time zone"));
    let out = run(dir.path(), &["project", "set", "shop", "--timezone", "Europe/Prague", "--churn-horizon-days", "60"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = ok_json(dir.path(), &["project", "list", "--json"]);
    assert_eq!(
        (list[0]["timezone"].as_str(), list[0]["churn_horizon_days"].as_i64()),
        (Some("Europe/Prague"), Some(60))
    );
}

#[test]
fn a_running_demo_is_never_wiped_by_a_second_one() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("demo");
    ok_json(&dir, &["demo", "--events", "3000", "--no-serve", "--json"]);
    // A demo serving that directory holds its lock.
    let mut serving = serve(&dir);
    let before = std::fs::metadata(dir.join("touchpoint.db")).unwrap().len();
    let o = run(&dir, &["demo", "--events", "3000", "--no-serve"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("in use by a running touchpoint"), "{err}");
    assert!(dir.join("demo-keys.json").exists() && dir.join("touchpoint.db").exists(), "nothing was deleted");
    assert!(std::fs::metadata(dir.join("touchpoint.db")).unwrap().len() >= before);
    serving.kill().unwrap();
    serving.wait().unwrap();
    // Once it has stopped, a new demo may replace it.
    ok_json(&dir, &["demo", "--events", "3000", "--no-serve", "--json"]);
}

#[test]
fn a_mistyped_data_directory_is_named_and_not_created() {
    let (root, _real) = a_store_in_a_folder();
    let typo = root.path().join("touchpoint-dta");
    // `serve` makes a new store, but not in a directory that is not there when data
    // directories are beside it.
    let commands: [&[&str]; 6] = [
        &["serve", "--listen", "127.0.0.1:0"],
        &["project", "list"],
        &["key", "list", "--project", "shop"],
        &["report", "funnel", "--project", "shop", "--steps", "cart"],
        &["export", "--project", "shop"],
        &["import", "/dev/null", "--project", "shop"],
    ];
    for args in commands {
        let o = Command::new(env!("CARGO_BIN_EXE_touchpoint"))
            .args(args)
            .arg("--data-dir")
            .arg(&typo)
            .current_dir(root.path())
            .env_remove("TOUCHPOINT_CONFIG")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}");
        assert!(err.contains("no Touchpoint data in") && err.contains("touchpoint-dta"), "{args:?}: {err}");
        assert!(err.contains("data directories") && err.contains(": touchpoint-data"), "{args:?}: {err}");
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
}

#[test]
fn commands_are_quiet_unless_asked() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("demo");
    let o = run(&dir, &["demo", "--events", "3000", "--no-serve", "--json"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("INFO") && !err.contains('\u{1b}'), "no log lines, no colour codes: {err}");
    let o = run(&dir, &["report", "churn", "--project", "1"]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("INFO") && !out.contains('\u{1b}') && !err.contains('\u{1b}'), "{err}");
    assert!(out.contains("As of ") && out.contains("(the current time)"), "the report says its clock: {out}");
    assert!(!out.contains("churn horizon"), "churn as of now sees every silence: {out}");
    // A journey map over the last week: too recent for anyone to have been silent 90 days.
    let week = format!(r#"{{"from": {}}}"#, chrono::Utc::now().timestamp() - 7 * 86_400);
    let o = run(&dir, &["report", "journey-map", "--project", "1", "--filter", &week]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("began less than one churn horizon ago"), "the report says its churn is partial: {out}");
    for asked in [vec!["-v"], vec![]] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_touchpoint"));
        c.args(["report", "churn", "--project", "1", "--data-dir"]).arg(&dir).args(&asked);
        if asked.is_empty() {
            c.env("RUST_LOG", "touchpoint=info");
        }
        let o = c.env_remove("TOUCHPOINT_CONFIG").output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("INFO"), "{asked:?} asks for log lines: {err}");
        assert!(!err.contains('\u{1b}'), "no colour codes off a terminal: {err}");
    }
}

#[test]
fn two_imports_of_one_file_give_identical_reports() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("brand.ndjson");
    let o = Command::new(env!("CARGO_BIN_EXE_touchpoint"))
        .args(["gen", "--events", "60000", "--seed", "5", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reports: [&[&str]; 7] = [
        &["journey-map"],
        &["funnel", "--steps", "cart,checkout,order-completed", "--window", "7d"],
        &["transitions"],
        &["retention", "--period", "week"],
        &["churn"],
        &["attribution", "--goal", "order-completed", "--by", "channel"],
        &[
            "attribution",
            "--goal",
            "order-completed",
            "--query",
            r#"{"models":["markov","shapley","time-decay","markov-2"]}"#,
        ],
    ];
    let mut outputs: Vec<Vec<String>> = vec![];
    for run_no in 0..2 {
        let dir = root.path().join(format!("d{run_no}"));
        ok_json(&dir, &["project", "create", "brand", "--json"]);
        ok_json(&dir, &["import", file.to_str().unwrap(), "--project", "brand", "--json"]);
        let mut texts = vec![];
        for r in reports {
            let mut args = vec!["report"];
            args.extend_from_slice(r);
            args.extend_from_slice(&["--project", "brand", "--now", "2026-11-01", "--json"]);
            let o = run(&dir, &args);
            assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
            texts.push(String::from_utf8(o.stdout).unwrap());
        }
        outputs.push(texts);
    }
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(outputs[0][i], outputs[1][i], "{r:?} differs between two imports of one file");
    }
}

#[test]
fn events_in_one_second_keep_their_millisecond_order() {
    // The file lists the cart before the product page, but the product page came first.
    let dir = shop_with(&[
        r#"{"type":"page","userId":"u","messageId":"2","timestamp":"2026-05-01T10:00:00.900Z","properties":{"path":"/kosik"}}"#,
        r#"{"type":"page","userId":"u","messageId":"1","timestamp":"2026-05-01T10:00:00.100Z","properties":{"path":"/produkt/1"}}"#,
    ]);
    let v = ok_json_pretty(
        dir.path(),
        &["report", "funnel", "--project", "shop", "--steps", "page:/produkt,cart", "--json", "--now", "2026-06-01"],
    );
    let steps = &v["groups"][0]["report"]["steps"];
    assert_eq!((steps[0]["customers"].as_u64(), steps[1]["customers"].as_u64()), (Some(1), Some(1)), "{v}");
}

#[test]
fn a_clamped_future_time_keeps_what_was_sent() {
    let dir = shop_with(&[
        r#"{"type":"track","userId":"u","messageId":"future","event":"Order Completed","timestamp":"2099-01-01T00:00:00Z"}"#,
        r#"{"type":"track","userId":"u","messageId":"past","event":"Order Completed","timestamp":"2026-01-01T00:00:00Z"}"#,
    ]);
    let o = run(dir.path(), &["export", "--project", "shop"]);
    let lines: Vec<Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let future = lines.iter().find(|l| l["messageId"] == "future").unwrap();
    assert_eq!(future["sentTimestamp"], "2099-01-01T00:00:00Z", "{future}");
    assert!(future["timestamp"].as_str().unwrap() < "2099", "stored as its arrival: {future}");
    let past = lines.iter().find(|l| l["messageId"] == "past").unwrap();
    assert!(past.get("sentTimestamp").is_none(), "{past}");
    let o = run(dir.path(), &["export", "--project", "shop", "--format", "csv"]);
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(csv.lines().next().unwrap().ends_with(",sent_timestamp"), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with("future,") && l.ends_with(",2099-01-01T00:00:00Z")), "{csv}");
}

#[test]
fn the_catalog_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("demo");
    ok_json(&dir, &["demo", "--events", "3000", "--no-serve", "--json"]);
    let text = |args: &[&str]| {
        let o = run(&dir, args);
        (o.status.success(), String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr))
    };
    let (ok, out) = text(&["touchpoint", "list", "--project", "1", "--lang", "cs"]);
    assert!(ok && out.contains("Košík"), "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 100), "tables fit 100 columns:\n{out}");
    let (ok, out) = text(&["touchpoint", "show", "carts", "--project", "1"]);
    assert!(!ok && out.contains("did you mean cart?"), "{out}");
    let (ok, out) = text(&["touchpoint", "set", "cart", "--project", "1", "--channel", "webb"]);
    assert!(!ok && out.contains("did you mean web?"), "{out}");
    let (ok, out) = text(&["touchpoint", "set", "cart", "--project", "1", "--goal", "true"]);
    assert!(ok && out.contains("goal"), "{out}");
    let (ok, out) = text(&["touchpoint", "show", "cart", "--project", "1"]);
    assert!(ok && out.contains("goal") && out.contains("stage purchase"), "set changed only the goal: {out}");
    let (ok, out) =
        text(&["touchpoint", "add", "store-visit", "--project", "1", "--channel", "store", "--stage", "purchase"]);
    assert!(ok, "{out}");
    // A rule, tested on recent events before it is added: nothing changes.
    let rule = [
        "--project",
        "1",
        "--touchpoint",
        "store-visit",
        "--event-type",
        "page",
        "--conditions",
        r#"[{"field":"path","op":"prefix","value":"/kosik"}]"#,
    ];
    let mut test = vec!["rule", "test", "--json"];
    test.extend_from_slice(&rule);
    let t = ok_json_pretty(&dir, &test);
    let matched = t["matched"].as_u64().unwrap();
    assert!(matched > 0 && t["from"][0][0] == "cart", "{t}");
    let (ok, out) = text(&["rule", "list", "--project", "1"]);
    assert!(ok && !out.contains("store-visit"), "testing added nothing: {out}");
    let mut add = vec!["rule", "add", "--priority", "1"];
    add.extend_from_slice(&rule);
    let (ok, out) = text(&add);
    assert!(ok && out.contains(&format!(": {matched} changed touchpoint")), "the test foretold the change: {out}");
    let (ok, out) = text(&["rule", "list", "--project", "1"]);
    assert!(ok && out.contains("→ store-visit"), "{out}");
    let id: String = out.lines().find(|l| l.contains("store-visit")).unwrap().split_whitespace().next().unwrap().into();
    let (ok, out) = text(&["rule", "remove", &id, "--project", "1"]);
    assert!(ok && out.contains("Removed rule"), "{out}");
    let (ok, out) = text(&["rule", "add", "--project", "1", "--touchpoint", "stor-visit"]);
    assert!(!ok && out.contains("did you mean store-visit?"), "{out}");
}

#[test]
fn a_rule_change_beside_a_running_server_says_what_to_do() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("demo");
    ok_json(&dir, &["demo", "--events", "2000", "--no-serve", "--json"]);
    let mut serving = serve(&dir);
    let o = run(&dir, &["rule", "add", "--project", "1", "--touchpoint", "cart", "--event-name", "Basket"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("POST or DELETE /api/rules"), "{err}");
    // Reading beside it works.
    let o = run(&dir, &["rule", "list", "--project", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serving.kill().unwrap();
    serving.wait().unwrap();
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Erase the hard way: one customer with a unique marker in an event property and a trait
/// among thousands of generated ones. Export finds it all; after erase no file in the data
/// directory holds the marker or the user id, every analysis counts one customer fewer,
/// and a new event with the erased id is refused and counted.
#[test]
fn an_erased_customer_leaves_no_byte_behind() {
    const MARKER: &str = "zq-erase-marker-7f3a";
    const USER: &str = "erase-me-5d1c";
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("brand.ndjson");
    let o = Command::new(env!("CARGO_BIN_EXE_touchpoint"))
        .args(["gen", "--events", "20000", "--seed", "3", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut text = std::fs::read_to_string(&file).unwrap();
    for (i, line) in [
        format!(r#"{{"type":"identify","userId":"{USER}","messageId":"erase-0","timestamp":"2026-10-01T09:00:00Z","traits":{{"nickname":"{MARKER}"}}}}"#),
        format!(r#"{{"type":"page","userId":"{USER}","messageId":"erase-1","timestamp":"2026-10-01T10:00:00Z","name":"Home","properties":{{"path":"/","note":"{MARKER}"}}}}"#),
        format!(r#"{{"type":"track","userId":"{USER}","messageId":"erase-2","timestamp":"2026-10-02T10:00:00Z","event":"Order Completed","properties":{{"note":"{MARKER}"}}}}"#),
    ]
    .iter()
    .enumerate()
    {
        // Among the generated events, not after them.
        let at = text.match_indices('\n').nth(100 + i * 5000).unwrap().0 + 1;
        text.insert_str(at, &format!("{line}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let dir = root.path().join("data");
    ok_json(&dir, &["project", "create", "brand", "--json"]);
    ok_json(&dir, &["import", file.to_str().unwrap(), "--project", "brand", "--json"]);
    std::fs::remove_file(&file).unwrap();
    let holding = |needle: &str| -> Vec<String> {
        files_under(&dir)
            .into_iter()
            .filter(|p| std::fs::read(p).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes()))
            .map(|p| p.display().to_string())
            .collect()
    };
    assert!(!holding(MARKER).is_empty(), "the marker must be on disk before the erase, or the test proves nothing");
    let reports: [&[&str]; 6] = [
        &["journey-map"],
        &["funnel", "--steps", "page:Home,order-completed", "--window", "30d"],
        &["transitions"],
        &["retention", "--period", "week"],
        &["churn"],
        &["attribution", "--goal", "order-completed", "--by", "channel"],
    ];
    let customers = || -> Vec<u64> {
        reports
            .iter()
            .map(|r| {
                let mut args = vec!["report"];
                args.extend_from_slice(r);
                args.extend_from_slice(&["--project", "brand", "--now", "2026-11-01", "--json"]);
                let o = run(&dir, &args);
                assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
                let v: Value = serde_json::from_slice(&o.stdout).unwrap();
                v["groups"][0]["customers"].as_u64().unwrap()
            })
            .collect()
    };
    let before = customers();

    let export = dir.join("../export.json");
    let o =
        run(&dir, &["customer", "export", "--project", "brand", "--user-id", USER, "--out", export.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    assert_eq!(doc["events"].as_array().unwrap().len(), 3, "{doc}");
    assert_eq!(doc["profile"]["traits"]["nickname"], MARKER);
    assert!(doc["identities"].as_array().unwrap().iter().any(|i| i["value"] == USER), "{doc}");

    let receipt = ok_json_pretty(&dir, &["customer", "erase", "--project", "brand", "--user-id", USER, "--json"]);
    assert_eq!(receipt["verified"], true, "{receipt}");
    assert_eq!(receipt["stores"]["removed"]["events"], 3, "{receipt}");
    assert_eq!(holding(MARKER), Vec::<String>::new(), "files still holding the marker");
    assert_eq!(holding(USER), Vec::<String>::new(), "files still holding the user id");
    let after = customers();
    let fewer: Vec<u64> = before.iter().zip(&after).map(|(b, a)| b - a).collect();
    assert_eq!(fewer, vec![1; reports.len()], "customers before {before:?}, after {after:?}");

    // The id is refused from now on, and counted; nothing else changes.
    let again = root.path().join("again.ndjson");
    std::fs::write(&again, format!("{{\"type\":\"track\",\"userId\":\"{USER}\",\"messageId\":\"erase-3\",\"timestamp\":\"2026-10-03T10:00:00Z\",\"event\":\"Order Completed\"}}\n")).unwrap();
    let s = ok_json(&dir, &["import", again.to_str().unwrap(), "--project", "brand", "--json"]);
    assert_eq!((s["stored"].as_u64(), s["suppressed"].as_u64()), (Some(0), Some(1)), "{s}");
    assert_eq!(customers(), after);
    assert_eq!(holding(USER), Vec::<String>::new());
    // A customer that is not there is named, not a crash.
    let o = run(&dir, &["customer", "erase", "--project", "brand", "--user-id", USER]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no customer of this project has the user id"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Export names them the same way: both go through the engine's `privacy::find`.
    let o = run(&dir, &["customer", "export", "--project", "brand", "--user-id", USER]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no customer of this project has the user id"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `touchpoint user …` with the password piped in, as a script makes the first owner; the
/// account then signs in through the engine with that password, and mistakes are named.
#[test]
fn people_who_sign_in_are_made_from_the_command_line() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    ok_json(dir.path(), &["project", "create", "Kavárna", "--json"]);
    let create = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_touchpoint"))
            .args(["user", "create"])
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("TOUCHPOINT_CONFIG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out =
        create(&["--email", " Ana@Kavarna.CZ", "--role", "owner", "--project", "Kavárna", "--json"], "ten chars!!\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((made["email"].as_str(), made["role"].as_str()), (Some("ana@kavarna.cz"), Some("owner")));
    let refused = |args: &[&str], stdin: &str, says: &str| {
        let out = create(args, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{args:?}: {err}");
    };
    refused(&["--email", "ana@kavarna.cz", "--role", "viewer"], "another password\n", "already has an account");
    refused(&["--email", "bo@kavarna.cz", "--role", "viewer"], "short\n", "at least 10 characters");
    refused(&["--email", "bo@kavarna.cz", "--role", "viewer"], "", "no password on standard input");
    refused(&["--email", "bo@kavarna.cz", "--role", "boss"], "a long password\n", "use owner, analyst or viewer");
    refused(&["--email", "bo", "--role", "viewer"], "a long password\n", "not an e-mail address");
    refused(
        &["--email", "bo@kavarna.cz", "--role", "viewer", "--project", "Kavarna"],
        "a long password\n",
        "projects here: Kavárna",
    );
    let list = ok_json(dir.path(), &["user", "list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "nothing refused was made: {list}");
    assert_eq!(list[0]["roles"][0]["role"], "owner");

    // The piped password is the one that signs in.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let config = touchpoint_engine::Config { data_dir: dir.path().to_path_buf(), ..Default::default() };
        let store = touchpoint_engine::backends::open_shared_store(&config).await.unwrap();
        let limiter = touchpoint_engine::accounts::SignInLimiter::default();
        let now = 1_800_000_000_000;
        let signed = touchpoint_engine::accounts::sign_in(&*store, &limiter, "ana@kavarna.cz", "ten chars!!", "t", now);
        assert!(signed.await.is_ok());
        let wrong =
            touchpoint_engine::accounts::sign_in(&*store, &limiter, "ana@kavarna.cz", "ten chars!!\n", "t", now);
        assert!(wrong.await.is_err(), "the newline was not part of the password");
    });

    // --link: no password read; a one-time link that sets it, at the server's address.
    let out = create(&["--email", "cyril@kavarna.cz", "--role", "analyst", "--project", "Kavárna", "--link"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    let link = said
        .lines()
        .find_map(|l| l.trim().strip_prefix("http://127.0.0.1:8080/set-password?link="))
        .unwrap_or_else(|| panic!("{said}"));
    rt.block_on(async {
        let config = touchpoint_engine::Config { data_dir: dir.path().to_path_buf(), ..Default::default() };
        let store = touchpoint_engine::backends::open_shared_store(&config).await.unwrap();
        let now = touchpoint_store::now_ms();
        let user =
            touchpoint_engine::accounts::set_password_with_link(&*store, link, "cyril's password", now).await.unwrap();
        assert_eq!(user.email, "cyril@kavarna.cz");
    });
}
