//! One integration-test binary for the whole gRPC acceptance suite (one link
//! step instead of one per file).  Each test starts its own Quiver server
//! (see src/lib.rs), so the tests are independent and may run in parallel.

mod collections;
mod common;
mod errors;
mod indexes_aliases;
mod payload;
mod points;
mod search;

use quiver_rust_acceptance::Server;

#[tokio::test]
async fn health_check_reports_qdrant_1_19() {
    let srv = Server::start();
    let c = srv.client();
    let h = c.health_check().await.unwrap();
    assert_eq!(h.title, "qdrant - vector search engine");
    assert_eq!(h.version, "1.19.0");
    let commit = h.commit.unwrap_or_default();
    assert!(
        commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "commit: {commit:?}"
    );
    drop(c);
    srv.stop();
}
