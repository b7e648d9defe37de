//! Segment's and RudderStack's Node.js SDKs (`@segment/analytics-node`,
//! `@rudderstack/rudder-sdk-node`, from npm, as a shop's backend would use them) send every
//! call type to a real server, through their own batching and gzip, and every event lands
//! exactly once with its traits. Without Node.js or the packages the test says so and
//! skips, unless `TOUCHPOINT_REQUIRE_SERVERS` is set (CI), where that is a failure.

mod common;

use common::spawn_app;
use std::collections::HashSet;

/// The npm directory `.ci/run` fills (`TOUCHPOINT_NPM_DIR`, or `~/.cache/touchpoint-npm`),
/// when Node.js and both SDKs are there.
fn node_sdks() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("TOUCHPOINT_NPM_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache/touchpoint-npm")))?
        .join("node_modules");
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let have = dir.join("@segment/analytics-node/package.json").exists()
        && dir.join("@rudderstack/rudder-sdk-node/package.json").exists();
    if node && have {
        return Some(dir);
    }
    let why = format!(
        "Node.js or the server SDKs are missing (npm install --prefix {} @segment/analytics-node @rudderstack/rudder-sdk-node)",
        dir.parent().map(|p| p.display().to_string()).unwrap_or_default()
    );
    if std::env::var_os("TOUCHPOINT_REQUIRE_SERVERS").is_some() {
        panic!("TOUCHPOINT_REQUIRE_SERVERS is set but {why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

#[tokio::test]
async fn segment_and_rudderstack_node_sdks_send_every_call_once() {
    let Some(modules) = node_sdks() else { return };
    let app = spawn_app().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/node_sdks.js");
    let out = tokio::process::Command::new("node")
        .arg(script)
        // A server SDK runs on the brand's servers: it sends with a server key.
        .env("WK", &app.server_key)
        .env("TP", &app.base)
        .env("NODE_PATH", &modules)
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("flushed"), "node failed: {stdout}\n{stderr}");
    let events = app.store.scan_events(Some(1), 0, 100).await.unwrap();
    assert_eq!(events.len(), 12, "six calls from each SDK");
    let ids: HashSet<&str> = events.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(ids.len(), 12, "each once");
    let mut kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "alias", "alias", "group", "group", "identify", "identify", "page", "page", "screen", "screen", "track",
            "track"
        ]
    );
    assert_eq!(app.failed().await, 0);
    for e in &events {
        assert!(!e.body.contains(&app.server_key), "no key in a stored body: {}", e.body);
    }
    for (user, email) in [("node-seg", "seg@example.cz"), ("node-rs", "rs@example.pl")] {
        let (s, p) = app.get(&format!("/api/customers/lookup?user_id={user}")).await;
        assert_eq!((s, p["traits"]["email"].as_str()), (200, Some(email)), "{p}");
        assert_eq!(p["traits"]["$verified_email"].as_str(), Some(email), "a server key's address is believed: {p}");
        let ids: Vec<&str> = p["identities"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap()).collect();
        assert!(ids.contains(&format!("{user}-2").as_str()), "the alias joined the new id: {ids:?}");
    }
    app.stop().await;
}
