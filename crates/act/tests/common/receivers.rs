//! Real receivers for the trigger tests, run by `receivers.py` (beside this folder): a
//! webhook receiver that checks signatures with the Standard Webhooks reference
//! implementation (PyPI `standardwebhooks`) and an SMTP server (PyPI `aiosmtpd`), and
//! Python's own e-mail parser to read what arrived. The Python comes from
//! `TOUCHPOINT_PYTHON` (`.ci/run` installs the packages in a virtual environment). Where
//! the packages are missing a test says so and skips, except under
//! `TOUCHPOINT_REQUIRE_SERVERS`, where that is a failure.
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python to run.
pub fn python() -> String {
    std::env::var("TOUCHPOINT_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../act/tests/receivers.py")
}

/// Whether the receivers can run here; if not, a line saying why (and a panic under
/// `TOUCHPOINT_REQUIRE_SERVERS`).
pub fn available(test: &str) -> bool {
    let ok = Command::new(python())
        .args(["-c", "import standardwebhooks, aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let why = format!("{} cannot import standardwebhooks and aiosmtpd (pip install standardwebhooks aiosmtpd, or set TOUCHPOINT_PYTHON)", python());
        if std::env::var_os("TOUCHPOINT_REQUIRE_SERVERS").is_some() {
            panic!("TOUCHPOINT_REQUIRE_SERVERS is set but {why}");
        }
        eprintln!("skipping {test}: {why}");
    }
    ok
}

/// A running receiver; killed when dropped.
pub struct Receiver {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its files (the webhook log, the SMTP messages).
    pub dir: tempfile::TempDir,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The child is waited for when the `Receiver` that owns it is dropped.
#[allow(clippy::zombie_processes)]
fn start(args: &[&str], dir: tempfile::TempDir) -> Receiver {
    let portfile = dir.path().join("port");
    // What the server says (a handshake a test meant to fail, say) goes to a file of its
    // own, shown if it does not start.
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(python())
        .arg(script())
        .arg(args[0])
        .arg(&portfile)
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("the receiver's log"))
        .spawn()
        .expect("start receivers.py");
    let t0 = Instant::now();
    loop {
        if let Ok(p) = std::fs::read_to_string(&portfile) {
            if let Ok(port) = p.trim().parse() {
                return Receiver { child, port, dir };
            }
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("receivers.py {} did not start: {said}", args[0]);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A throwaway certificate authority and a certificate it signed for `127.0.0.1` and
/// `localhost`, made with the `openssl` command; `None` after a line saying why (a panic
/// under `TOUCHPOINT_REQUIRE_SERVERS`) where it cannot run.
pub struct TestCa {
    /// The CA's certificate (PEM): what a client is told to trust.
    pub ca_pem: String,
    /// The server's certificate and key files.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Keeps the files.
    _dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new(test: &str) -> Option<TestCa> {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
        std::fs::write(
            p("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let steps: Vec<Vec<String>> = vec![
            [
                &["req", "-x509"][..],
                &ec,
                &["-keyout", &p("ca.key"), "-out", &p("ca.pem"), "-days", "2"],
                &[
                    "-subj",
                    "/CN=Touchpoint test CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect(),
            [&["req"][..], &ec, &["-keyout", &p("server.key"), "-out", &p("server.csr"), "-subj", "/CN=127.0.0.1"]]
                .concat()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            [
                "x509",
                "-req",
                "-in",
                &p("server.csr"),
                "-CA",
                &p("ca.pem"),
                "-CAkey",
                &p("ca.key"),
                "-CAcreateserial",
                "-out",
                &p("server.pem"),
                "-days",
                "2",
                "-extfile",
                &p("server.ext"),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ];
        for args in steps {
            let ok = Command::new("openssl").args(&args).output().is_ok_and(|o| o.status.success());
            if !ok {
                let why = format!("the openssl command cannot make test certificates (openssl {})", args.join(" "));
                if std::env::var_os("TOUCHPOINT_REQUIRE_SERVERS").is_some() {
                    panic!("TOUCHPOINT_REQUIRE_SERVERS is set but {why}");
                }
                eprintln!("skipping {test}: {why}");
                return None;
            }
        }
        Some(TestCa {
            ca_pem: std::fs::read_to_string(p("ca.pem")).unwrap(),
            cert: dir.path().join("server.pem"),
            key: dir.path().join("server.key"),
            _dir: dir,
        })
    }
}

impl Receiver {
    /// An HTTPS webhook receiver with `ca`'s server certificate, verifying with `secret`,
    /// answering by `plan` (see receivers.py).
    pub fn webhook_tls(secret: &str, plan: &Value, ca: &TestCa) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log.jsonl");
        let (cert, key) = (ca.cert.to_str().unwrap(), ca.key.to_str().unwrap());
        start(&["webhook", log.to_str().unwrap(), secret, &plan.to_string(), cert, key], dir)
    }

    /// An SMTP server with `ca`'s server certificate: STARTTLS required (`mode`
    /// `"starttls"`) or TLS from the first byte (`"implicit"`).
    pub fn smtp_tls(mode: &str, ca: &TestCa) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("mail");
        start(&["smtp", out.to_str().unwrap(), mode, ca.cert.to_str().unwrap(), ca.key.to_str().unwrap()], dir)
    }

    /// A webhook receiver verifying with `secret`, answering by `plan` (see receivers.py).
    pub fn webhook(secret: &str, plan: &Value) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log.jsonl");
        start(&["webhook", log.to_str().unwrap(), secret, &plan.to_string()], dir)
    }

    /// An SMTP server.
    pub fn smtp() -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("mail");
        start(&["smtp", out.to_str().unwrap()], dir)
    }

    /// `http://127.0.0.1:PORT/hook`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Every request the webhook receiver got, in order.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Every message the SMTP server accepted, as Python's parser reads it, with its
    /// envelope under `envelope`.
    pub fn messages(&self) -> Vec<Value> {
        let dir = self.dir.path().join("mail");
        let mut n = 1;
        let mut out = vec![];
        while dir.join(format!("{n}.json")).exists() {
            let parsed =
                Command::new(python()).arg(script()).arg("parse").arg(dir.join(format!("{n}.eml"))).output().unwrap();
            assert!(parsed.status.success(), "{}", String::from_utf8_lossy(&parsed.stderr));
            let mut v: Value = serde_json::from_slice(&parsed.stdout).unwrap();
            v["envelope"] =
                serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{n}.json"))).unwrap()).unwrap();
            out.push(v);
            n += 1;
        }
        out
    }

    /// Wait until `done` holds of what arrived (at most `secs`), yielding to the runtime
    /// (a server under test may share its thread).
    pub async fn wait_for<T>(&self, secs: u64, mut done: impl FnMut(&Receiver) -> Option<T>) -> Option<T> {
        let t0 = Instant::now();
        loop {
            if let Some(x) = done(self) {
                return Some(x);
            }
            if t0.elapsed() > Duration::from_secs(secs) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
