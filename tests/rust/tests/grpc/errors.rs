//! Error codes, and proof that Quiver's user errors are not retried.
//!
//! Why retries matter: `qdrant-client` 1.20 wraps every call in
//! `ChannelPool::with_channel(f, allow_retry = true)` (src/channel_pool.rs):
//! when the call fails with `Code::Internal | Unavailable | Cancelled |
//! Unknown`, it builds a NEW channel (`make_channel`: a fresh TCP connection
//! via `Endpoint::connect`) and sends the same request again.  Any other code
//! is returned as is.  A server that answered INTERNAL or UNKNOWN for a user
//! error would therefore see every bad request twice, and a non-idempotent
//! write could be applied twice.
//!
//! How it is proved: the client talks to the server through a counting TCP
//! proxy (src/lib.rs).  A client built with `skip_compatibility_check()` and
//! a pool of one channel (`set_pool_size(1)`; the default pool of 3 is used
//! round-robin) opens no connection until the first call, and tonic keeps
//! one HTTP/2 connection per channel, so after any number of calls without a
//! retry the proxy has accepted exactly ONE connection.  Had Quiver answered the
//! wrong-dimension upsert with INTERNAL, `with_channel` would have called
//! `make_channel` and the proxy would count 2 (and the count assertion
//! `connections == 1` would fail).  `proxy_detects_a_client_retry` shows
//! that the proxy does see such a retry: it breaks the first connection
//! before the request reaches the server, the client gets UNAVAILABLE /
//! UNKNOWN, reconnects and resends, and the proxy counts 2 connections while
//! the point is written once.

use std::time::Duration;

use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, DeletePointsBuilder, Filter, GetPointsBuilder, PointId,
    PointStruct, PointsIdsList, QueryPointsBuilder, ScrollPointsBuilder, SetPayloadPointsBuilder,
    UpsertPointsBuilder,
};
use qdrant_client::Qdrant;
use quiver_rust_acceptance::{expect_code, status_of, CountingProxy, Dist, Server};
use serde_json::json;
use tonic::Code;

use crate::common::*;

/// A client through the proxy with ONE pooled channel (the default pool of
/// 3 channels is used round-robin, each opening its own connection) and no
/// health-check connection at build time.
fn proxied_client(proxy: &CountingProxy) -> Qdrant {
    let mut cfg = Qdrant::from_url(&format!("http://127.0.0.1:{}", proxy.port))
        .skip_compatibility_check()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(20));
    cfg.set_pool_size(1);
    cfg.build().unwrap()
}

fn pt(id: u64, v: Vec<f32>) -> PointStruct {
    PointStruct::new(id, v, payload(json!({"id": id})))
}

#[tokio::test]
async fn user_errors_are_not_retried() {
    let srv = Server::start();
    let direct = srv.client();
    create(&direct, "col", 4, Dist::Dot).await;
    upsert(&direct, "col", vec![pt(1, vec![1.0, 2.0, 3.0, 4.0])]).await;

    let proxy = CountingProxy::start(srv.grpc_port);
    let c = proxied_client(&proxy);
    assert_eq!(proxy.connections(), 0, "the client connects lazily");
    // wrong dimension: INVALID_ARGUMENT, one connection, nothing written
    let st = status_of(
        c.upsert_points(
            UpsertPointsBuilder::new("col", vec![pt(2, vec![1.0, 2.0, 3.0])]).wait(true),
        )
        .await,
        "wrong-dimension upsert",
    );
    assert_eq!(
        st.code(),
        Code::InvalidArgument,
        "message: {}",
        st.message()
    );
    assert!(
        st.message().contains("expected dim: 4, got 3"),
        "message names the dimensions: {}",
        st.message()
    );
    assert_eq!(proxy.connections(), 1, "no retry on a new connection");
    let (up1, down1) = proxy.bytes();
    assert!(up1 > 0 && down1 > 0, "traffic went through the proxy");

    // same without wait
    expect_code(
        c.upsert_points(UpsertPointsBuilder::new("col", vec![pt(3, vec![1.0; 5])]))
            .await,
        Code::InvalidArgument,
        "wrong-dimension upsert without wait",
    );
    // a batch where only the last point is wrong: nothing of it is written
    expect_code(
        c.upsert_points(
            UpsertPointsBuilder::new(
                "col",
                vec![
                    pt(4, vec![1.0; 4]),
                    pt(5, vec![1.0; 4]),
                    pt(6, vec![1.0; 2]),
                ],
            )
            .wait(true),
        )
        .await,
        Code::InvalidArgument,
        "batch with one wrong-dimension point",
    );

    // missing collection: NOT_FOUND
    let msg = expect_code(
        c.upsert_points(UpsertPointsBuilder::new("absent", vec![pt(1, vec![1.0; 4])]).wait(true))
            .await,
        Code::NotFound,
        "upsert into a missing collection",
    );
    assert!(
        msg.contains("absent"),
        "message names the collection: {msg}"
    );
    assert_eq!(proxy.connections(), 1, "no retry on a new connection");

    // a successful call still uses the same connection
    let n = c
        .count(CountPointsBuilder::new("col").exact(true))
        .await
        .unwrap()
        .result
        .unwrap()
        .count;
    assert_eq!(n, 1, "nothing of the failed upserts was written");
    assert_eq!(proxy.connections(), 1);
    let got = get(
        &direct,
        "col",
        &[2, 3, 4, 5, 6].map(quiver_rust_acceptance::Id::Num),
    )
    .await;
    assert!(
        got.is_empty(),
        "failed points must not exist: {:?}",
        got.keys()
    );
    let (up2, down2) = proxy.bytes();
    assert!(up2 > up1 && down2 > down1);

    drop(c);
    drop(proxy);
    drop(direct);
    srv.stop();
}

#[tokio::test]
async fn proxy_detects_a_client_retry() {
    let srv = Server::start();
    let direct = srv.client();
    let name = "retry_marker_col";
    create(&direct, name, 4, Dist::Dot).await;

    // The first accepted connection is cut as soon as the request body
    // (which holds the collection name, protobuf is not compressed by
    // default) has arrived, before anything reaches the server; later
    // connections are forwarded.
    let proxy = CountingProxy::start_breaking_first(srv.grpc_port, name.as_bytes());
    let c = proxied_client(&proxy);
    let r = c
        .upsert_points(UpsertPointsBuilder::new(name, vec![pt(9, vec![1.0; 4])]).wait(true))
        .await;
    assert!(r.is_ok(), "the client retried on a new connection: {r:?}");
    assert_eq!(
        proxy.connections(),
        2,
        "a retried call shows up as a second connection"
    );
    assert_eq!(count(&direct, name).await, 1, "written once");

    drop(c);
    drop(proxy);
    drop(direct);
    srv.stop();
}

/// Every call on a missing collection is NOT_FOUND; other user errors are
/// INVALID_ARGUMENT or ALREADY_EXISTS; never INTERNAL / UNKNOWN.
#[tokio::test]
async fn error_codes() {
    let srv = Server::start();
    let c = srv.client();
    create(&c, "col", 3, Dist::Cosine).await;
    upsert(&c, "col", vec![pt(1, vec![1.0, 0.0, 0.0])]).await;

    let nf = Code::NotFound;
    expect_code(c.collection_info("x").await, nf, "info");
    expect_code(
        c.query(
            QueryPointsBuilder::new("x")
                .query(vec![1.0, 0.0, 0.0])
                .limit(1),
        )
        .await,
        nf,
        "query",
    );
    expect_code(c.scroll(ScrollPointsBuilder::new("x")).await, nf, "scroll");
    expect_code(
        c.count(CountPointsBuilder::new("x").exact(true)).await,
        nf,
        "count",
    );
    expect_code(
        c.get_points(GetPointsBuilder::new("x", vec![PointId::from(1u64)]))
            .await,
        nf,
        "get",
    );
    expect_code(
        c.delete_points(
            DeletePointsBuilder::new("x")
                .points(PointsIdsList {
                    ids: vec![1u64.into()],
                })
                .wait(true),
        )
        .await,
        nf,
        "delete points",
    );
    expect_code(
        c.set_payload(
            SetPayloadPointsBuilder::new("x", payload(json!({"a": 1})))
                .points_selector(Filter::must([Condition::has_id([1u64])]))
                .wait(true),
        )
        .await,
        nf,
        "set payload",
    );

    let ia = Code::InvalidArgument;
    expect_code(
        c.query(QueryPointsBuilder::new("col").query(vec![1.0; 4]).limit(1))
            .await,
        ia,
        "query with a wrong dimension",
    );
    expect_code(
        c.upsert_points(
            UpsertPointsBuilder::new(
                "col",
                vec![PointStruct::new(
                    2u64,
                    qdrant_client::qdrant::NamedVectors::default().add_vector("nope", vec![1.0; 3]),
                    payload(json!({})),
                )],
            )
            .wait(true),
        )
        .await,
        ia,
        "upsert of an unknown vector name",
    );
    assert_eq!(count(&c, "col").await, 1, "failed writes changed nothing");

    drop(c);
    srv.stop();
}
