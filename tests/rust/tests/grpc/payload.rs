//! Payload operations through the official client, by ids and by filter:
//! set (merge), set under a nested `key`, overwrite, delete keys (top-level
//! and nested paths), clear; each checked by reading every point back and
//! comparing its whole payload with the expected JSON.

use qdrant_client::qdrant::{
    ClearPayloadPointsBuilder, Condition, DeletePayloadPointsBuilder, Filter, PointStruct,
    PointsIdsList, SetPayloadPointsBuilder,
};
use quiver_rust_acceptance::{expect_code, Dist, Server};
use serde_json::{json, Value as Json};
use tonic::Code;

use crate::common::*;

fn base(i: u64) -> Json {
    json!({"a": 1, "grp": if i <= 4 { "low" } else { "high" }, "b": {"c": "x", "d": [1, 2]}, "keep": true, "i": i})
}

fn ids(v: &[u64]) -> PointsIdsList {
    PointsIdsList {
        ids: v.iter().map(|&i| i.into()).collect(),
    }
}

#[tokio::test]
async fn set_overwrite_delete_clear() {
    let srv = Server::start();
    let c = srv.client();
    create(&c, "pl", 2, Dist::Dot).await;
    upsert(
        &c,
        "pl",
        (1..=8u64)
            .map(|i| PointStruct::new(i, vec![i as f32, 1.0], payload(base(i))))
            .collect(),
    )
    .await;
    let mut want: Vec<Json> = (0..=8u64).map(base).collect(); // index = id

    // set by ids: merges top-level keys
    let r = c
        .set_payload(
            SetPayloadPointsBuilder::new("pl", payload(json!({"a": 10, "new": "v"})))
                .points_selector(ids(&[1, 2]))
                .wait(true),
        )
        .await
        .unwrap();
    assert!(r.result.unwrap().operation_id.is_some());
    for i in [1, 2] {
        want[i]["a"] = json!(10);
        want[i]["new"] = json!("v");
    }

    // set under a nested key: merges into that object
    c.set_payload(
        SetPayloadPointsBuilder::new("pl", payload(json!({"c": "y", "e": 2.5})))
            .points_selector(ids(&[3]))
            .key("b")
            .wait(true),
    )
    .await
    .unwrap();
    want[3]["b"] = json!({"c": "y", "d": [1, 2], "e": 2.5});

    // set by filter
    c.set_payload(
        SetPayloadPointsBuilder::new("pl", payload(json!({"flag": false})))
            .points_selector(Filter::must([Condition::matches(
                "grp",
                "high".to_string(),
            )]))
            .wait(true),
    )
    .await
    .unwrap();
    for w in want.iter_mut().skip(5) {
        w["flag"] = json!(false);
    }

    // overwrite by ids: replaces the whole payload
    c.overwrite_payload(
        SetPayloadPointsBuilder::new("pl", payload(json!({"only": [null, {"z": -1}]})))
            .points_selector(ids(&[4]))
            .wait(true),
    )
    .await
    .unwrap();
    want[4] = json!({"only": [null, {"z": -1}]});

    // overwrite by filter
    c.overwrite_payload(
        SetPayloadPointsBuilder::new("pl", payload(json!({"i": 0})))
            .points_selector(Filter::must([Condition::matches("i", 8i64)]))
            .wait(true),
    )
    .await
    .unwrap();
    want[8] = json!({"i": 0});

    // delete keys by ids: a top-level key and a nested path
    c.delete_payload(
        DeletePayloadPointsBuilder::new("pl", vec!["a".to_string(), "b.c".to_string()])
            .points_selector(ids(&[5]))
            .wait(true),
    )
    .await
    .unwrap();
    want[5] = json!({"grp": "high", "b": {"d": [1, 2]}, "keep": true, "i": 5, "flag": false});

    // delete keys by filter
    c.delete_payload(
        DeletePayloadPointsBuilder::new("pl", vec!["keep".to_string(), "absent".to_string()])
            .points_selector(Filter::must([Condition::has_id([1u64, 2])]))
            .wait(true),
    )
    .await
    .unwrap();
    for i in [1, 2] {
        want[i].as_object_mut().unwrap().remove("keep");
    }

    // clear by ids, then by filter
    c.clear_payload(
        ClearPayloadPointsBuilder::new("pl")
            .points(ids(&[6]))
            .wait(true),
    )
    .await
    .unwrap();
    want[6] = json!({});
    c.clear_payload(
        ClearPayloadPointsBuilder::new("pl")
            .points(Filter::must([Condition::matches("i", 7i64)]))
            .wait(true),
    )
    .await
    .unwrap();
    want[7] = json!({});

    for (i, w) in want.iter().enumerate().skip(1) {
        assert_eq!(
            &payload_of(&c, "pl", i as u64).await,
            w,
            "payload of point {i}"
        );
    }

    // filters see the new payloads
    let n = c
        .count(
            qdrant_client::qdrant::CountPointsBuilder::new("pl")
                .filter(Filter::must([Condition::matches("a", 10i64)]))
                .exact(true),
        )
        .await
        .unwrap()
        .result
        .unwrap()
        .count;
    assert_eq!(n, 2);

    // errors: a missing point id, a missing collection; nothing changes
    expect_code(
        c.set_payload(
            SetPayloadPointsBuilder::new("pl", payload(json!({"a": 99})))
                .points_selector(ids(&[999]))
                .wait(true),
        )
        .await,
        Code::NotFound,
        "set_payload on a missing point",
    );
    expect_code(
        c.set_payload(
            SetPayloadPointsBuilder::new("nope", payload(json!({"a": 99})))
                .points_selector(ids(&[1]))
                .wait(true),
        )
        .await,
        Code::NotFound,
        "set_payload on a missing collection",
    );
    assert_eq!(&payload_of(&c, "pl", 1).await, &want[1]);

    drop(c);
    srv.stop();
}
