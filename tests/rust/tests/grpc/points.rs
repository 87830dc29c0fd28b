//! Upsert and read-back through the official client: every point-id kind
//! (numbers up to 2^64-1 including values above 2^53, UUIDs hyphenated,
//! upper case, 32 hex digits, braced and `urn:uuid:`, returned lowercase
//! hyphenated), exact payload values of every JSON kind, bit-exact float32
//! vectors (Dot keeps them as stored; Cosine returns them normalised), named
//! vectors, vector update / delete, point delete by ids and by filter.

use std::collections::HashMap;

use qdrant_client::qdrant::{
    Condition, DeletePointVectorsBuilder, DeletePointsBuilder, Filter, GetPointsBuilder,
    NamedVectors, PointId, PointStruct, PointVectors, PointsIdsList, QueryPointsBuilder,
    ScrollPointsBuilder, UpdatePointVectorsBuilder, UpsertPointsBuilder, VectorsSelector,
};
use quiver_rust_acceptance::{
    dense_of, expect_code, id_of, named_of, normalized, payload_json, Dist, Id, Server,
};
use serde_json::json;
use tonic::Code;

use crate::common::*;

fn uuid(s: &str) -> Id {
    Id::Uuid(s.to_string())
}

#[tokio::test]
async fn every_id_kind_round_trips() {
    let srv = Server::start();
    let c = srv.client();
    create(&c, "ids", 2, Dist::Dot).await;

    let a = "550e8400-e29b-41d4-a716-446655440000";
    let b = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
    let d = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
    let e = "00000000-0000-0000-0000-000000000001";
    let f = "ffffffff-ffff-ffff-ffff-fffffffffffe";
    // (id as sent, id as returned)
    let cases: Vec<(PointId, Id)> = vec![
        (PointId::from(0u64), Id::Num(0)),
        (PointId::from(1u64), Id::Num(1)),
        (PointId::from((1u64 << 53) + 1), Id::Num((1u64 << 53) + 1)),
        (PointId::from(1u64 << 63), Id::Num(1u64 << 63)),
        (PointId::from(u64::MAX), Id::Num(u64::MAX)),
        (PointId::from(a), uuid(a)),
        (PointId::from(b.to_uppercase()), uuid(b)),
        (PointId::from(d.replace('-', "")), uuid(d)),
        (PointId::from(format!("{{{e}}}")), uuid(e)),
        (PointId::from(format!("urn:uuid:{f}")), uuid(f)),
    ];
    let points: Vec<PointStruct> = cases
        .iter()
        .enumerate()
        .map(|(i, (pid, _))| {
            PointStruct::new(
                pid.clone(),
                vec![i as f32, -(i as f32) / 4.0],
                payload(json!({ "i": i })),
            )
        })
        .collect();
    upsert(&c, "ids", points).await;
    assert_eq!(count(&c, "ids").await, cases.len() as u64);

    let ids: Vec<Id> = cases.iter().map(|(_, id)| id.clone()).collect();
    let got = get(&c, "ids", &ids).await;
    assert_eq!(
        got.len(),
        cases.len(),
        "every id read back: {:?}",
        got.keys()
    );
    for (i, (_, id)) in cases.iter().enumerate() {
        let p = got.get(id).unwrap_or_else(|| panic!("{id:?} missing"));
        assert_eq!(
            payload_json(&p.payload),
            json!({ "i": i }),
            "payload of {id:?}"
        );
        assert_eq!(
            dense_of(&p.vectors).unwrap(),
            vec![i as f32, -(i as f32) / 4.0],
            "vector of {id:?}"
        );
    }

    // Scroll returns ids in order: numbers ascending, then UUIDs ascending.
    let sc = c
        .scroll(ScrollPointsBuilder::new("ids").limit(100))
        .await
        .unwrap();
    let order: Vec<Id> = sc.result.iter().map(|p| id_of(&p.id)).collect();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(order, want);
    assert!(sc.next_page_offset.is_none());

    // Another spelling of an existing UUID overwrites that point.
    upsert(
        &c,
        "ids",
        vec![PointStruct::new(
            PointId::from(format!("urn:uuid:{}", a.to_uppercase())),
            vec![9.0, 9.0],
            payload(json!({ "i": "overwritten" })),
        )],
    )
    .await;
    assert_eq!(count(&c, "ids").await, cases.len() as u64);
    assert_eq!(
        payload_json(&get(&c, "ids", &[uuid(a)]).await[&uuid(a)].payload),
        json!({ "i": "overwritten" })
    );

    // Reading a UUID in another spelling finds it; missing ids are skipped.
    let r = c
        .get_points(GetPointsBuilder::new(
            "ids",
            vec![
                PointId::from(d.to_uppercase()),
                PointId::from(12345u64),
                PointId::from("00000000-0000-0000-0000-000000000bad"),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(
        r.result.iter().map(|p| id_of(&p.id)).collect::<Vec<_>>(),
        [uuid(d)]
    );

    // Invalid ids are user errors, and nothing is written.
    for bad in [
        "not-a-uuid",
        "123",
        "550e8400-e29b-41d4-a716-44665544000g",
        "",
    ] {
        expect_code(
            c.upsert_points(
                UpsertPointsBuilder::new(
                    "ids",
                    vec![PointStruct::new(
                        PointId::from(bad),
                        vec![1.0, 2.0],
                        payload(json!({})),
                    )],
                )
                .wait(true),
            )
            .await,
            Code::InvalidArgument,
            &format!("upsert with id {bad:?}"),
        );
    }
    assert_eq!(count(&c, "ids").await, cases.len() as u64);

    drop(c);
    srv.stop();
}

#[tokio::test]
async fn payload_and_vectors_read_back_exactly() {
    let srv = Server::start();
    let c = srv.client();
    create(&c, "exact", 6, Dist::Dot).await;
    create(&c, "cos", 3, Dist::Cosine).await;

    let pl = json!({
        "str": "héllo \"wörld\"\n\t\\ 🦀",
        "empty_str": "",
        "zero": 0,
        "neg": -42,
        "i64_max": i64::MAX,
        "i64_min": i64::MIN,
        "above_2_53": 9007199254740993i64,
        "tenth": 0.1,
        "third": 1.0 / 3.0,
        "float_int": 2.0,
        "long_double": -3.3817118747907386,
        "tiny": 1e-300,
        "subnormal": 5e-324,
        "max": f64::MAX,
        "t": true,
        "f": false,
        "nul": null,
        "list": ["a", 1, 2.5, false, null, {"k": [1, [2, 3]]}],
        "empty_list": [],
        "empty_obj": {},
        "nested": {"a": {"b": {"c": "deep", "n": -1.5e-7}}, "with.dot": 1},
    });
    let v1: Vec<f32> = vec![
        0.1,
        -0.0,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45, // smallest subnormal
        -123456.79,
    ];
    let v2: Vec<f32> = vec![1.0, 2.0, 3.0, 4.0, 5.0, 1.0 / 3.0];
    upsert(
        &c,
        "exact",
        vec![
            PointStruct::new(7u64, v1.clone(), payload(pl.clone())),
            PointStruct::new(8u64, v2.clone(), payload(json!({}))),
        ],
    )
    .await;

    let got = get(&c, "exact", &[Id::Num(7), Id::Num(8)]).await;
    assert_eq!(payload_json(&got[&Id::Num(7)].payload), pl);
    assert_eq!(payload_json(&got[&Id::Num(8)].payload), json!({}));
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&dense_of(&got[&Id::Num(7)].vectors).unwrap()),
        bits(&v1),
        "Dot vectors are returned bit-exact"
    );
    assert_eq!(
        bits(&dense_of(&got[&Id::Num(8)].vectors).unwrap()),
        bits(&v2)
    );

    // The same values through scroll and query (with_payload / with_vectors).
    let sc = c
        .scroll(
            ScrollPointsBuilder::new("exact")
                .limit(1)
                .with_payload(true)
                .with_vectors(true),
        )
        .await
        .unwrap();
    assert_eq!(sc.result.len(), 1);
    assert_eq!(payload_json(&sc.result[0].payload), pl);
    assert_eq!(bits(&dense_of(&sc.result[0].vectors).unwrap()), bits(&v1));
    assert_eq!(
        sc.next_page_offset
            .as_ref()
            .map(|_| id_of(&sc.next_page_offset)),
        Some(Id::Num(8))
    );

    let q = c
        .query(
            QueryPointsBuilder::new("exact")
                .query(vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
                .limit(1)
                .with_payload(true)
                .with_vectors(true),
        )
        .await
        .unwrap();
    assert_eq!(q.result.len(), 1);
    assert_eq!(id_of(&q.result[0].id), Id::Num(8));
    assert_eq!(payload_json(&q.result[0].payload), json!({}));
    assert_eq!(bits(&dense_of(&q.result[0].vectors).unwrap()), bits(&v2));
    // query defaults: no payload, no vectors
    let q = c
        .query(
            QueryPointsBuilder::new("exact")
                .query(vec![0.0; 6])
                .limit(2),
        )
        .await
        .unwrap();
    assert_eq!(q.result.len(), 2);
    for p in &q.result {
        assert!(p.payload.is_empty(), "query returns no payload by default");
        assert!(p.vectors.is_none(), "query returns no vectors by default");
    }

    // Cosine: stored and returned normalised.
    let raw = vec![3.0f32, -4.0, 12.0];
    upsert(
        &c,
        "cos",
        vec![PointStruct::new(1u64, raw.clone(), payload(json!({})))],
    )
    .await;
    let back = dense_of(&get(&c, "cos", &[Id::Num(1)]).await[&Id::Num(1)].vectors).unwrap();
    let want = normalized(&raw);
    for (g, w) in back.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-6,
            "normalised vector: got {back:?} want {want:?}"
        );
    }

    drop(c);
    srv.stop();
}

#[tokio::test]
async fn named_vectors_update_and_delete() {
    let srv = Server::start();
    let c = srv.client();
    create_named(&c, "nv", &[("img", 3, Dist::Dot), ("txt", 2, Dist::Euclid)]).await;

    let img = |i: u64| vec![i as f32, 1.0, -(i as f32) / 2.0];
    let txt = |i: u64| vec![(i * i) as f32 / 8.0, 0.5];
    let pts: Vec<PointStruct> = (1..=6)
        .map(|i| {
            let mut v = NamedVectors::default().add_vector("img", img(i));
            if i != 6 {
                v = v.add_vector("txt", txt(i));
            }
            PointStruct::new(i, v, payload(json!({ "i": i, "odd": i % 2 == 1 })))
        })
        .collect();
    upsert(&c, "nv", pts).await;

    let all = get(&c, "nv", &(1..=6).map(Id::Num).collect::<Vec<_>>()).await;
    for i in 1..=6u64 {
        let mut want = HashMap::from([("img".to_string(), img(i))]);
        if i != 6 {
            want.insert("txt".to_string(), txt(i));
        }
        assert_eq!(named_of(&all[&Id::Num(i)].vectors), want, "vectors of {i}");
    }

    // selected vector names only
    let r = c
        .get_points(
            GetPointsBuilder::new("nv", vec![PointId::from(2u64), PointId::from(6u64)])
                .with_vectors(VectorsSelector::from(vec!["txt".to_string()])),
        )
        .await
        .unwrap();
    let by: HashMap<Id, HashMap<String, Vec<f32>>> = r
        .result
        .iter()
        .map(|p| (id_of(&p.id), named_of(&p.vectors)))
        .collect();
    assert_eq!(
        by[&Id::Num(2)],
        HashMap::from([("txt".to_string(), txt(2))])
    );
    assert_eq!(by[&Id::Num(6)], HashMap::new());

    // update one named vector: the other is kept
    let r = c
        .update_vectors(
            UpdatePointVectorsBuilder::new(
                "nv",
                vec![PointVectors {
                    id: Some(1u64.into()),
                    vectors: Some(
                        NamedVectors::default()
                            .add_vector("txt", vec![-7.0, 7.5])
                            .into(),
                    ),
                }],
            )
            .wait(true),
        )
        .await
        .unwrap();
    assert!(r.result.unwrap().operation_id.is_some());
    let p1 = named_of(&get(&c, "nv", &[Id::Num(1)]).await[&Id::Num(1)].vectors);
    assert_eq!(
        p1,
        HashMap::from([
            ("img".to_string(), img(1)),
            ("txt".to_string(), vec![-7.0, 7.5])
        ])
    );
    // adding a vector a point did not have
    c.update_vectors(
        UpdatePointVectorsBuilder::new(
            "nv",
            vec![PointVectors {
                id: Some(6u64.into()),
                vectors: Some(
                    NamedVectors::default()
                        .add_vector("txt", vec![0.0, 0.0])
                        .into(),
                ),
            }],
        )
        .wait(true),
    )
    .await
    .unwrap();
    assert_eq!(
        named_of(&get(&c, "nv", &[Id::Num(6)]).await[&Id::Num(6)].vectors)["txt"],
        vec![0.0, 0.0]
    );

    // delete a named vector by ids and by filter; the points stay
    c.delete_vectors(
        DeletePointVectorsBuilder::new("nv")
            .points_selector(PointsIdsList {
                ids: vec![2u64.into()],
            })
            .vectors(VectorsSelector::from(vec!["txt".to_string()]))
            .wait(true),
    )
    .await
    .unwrap();
    c.delete_vectors(
        DeletePointVectorsBuilder::new("nv")
            .points_selector(Filter::must([Condition::matches("i", 3i64)]))
            .vectors(VectorsSelector::from(vec!["img".to_string()]))
            .wait(true),
    )
    .await
    .unwrap();
    assert_eq!(count(&c, "nv").await, 6);
    let all = get(&c, "nv", &[Id::Num(2), Id::Num(3)]).await;
    assert_eq!(
        named_of(&all[&Id::Num(2)].vectors),
        HashMap::from([("img".to_string(), img(2))])
    );
    assert_eq!(
        named_of(&all[&Id::Num(3)].vectors),
        HashMap::from([("txt".to_string(), txt(3))])
    );
    // a point without "txt" is no candidate for a query using "txt"
    let q = c
        .query(
            QueryPointsBuilder::new("nv")
                .query(vec![0.0, 0.0])
                .using("txt")
                .limit(10),
        )
        .await
        .unwrap();
    let mut ids: Vec<Id> = q.result.iter().map(|p| id_of(&p.id)).collect();
    ids.sort();
    assert_eq!(ids, [1, 3, 4, 5, 6].map(Id::Num));

    // errors: wrong dimension, unknown name, missing point
    expect_code(
        c.update_vectors(
            UpdatePointVectorsBuilder::new(
                "nv",
                vec![PointVectors {
                    id: Some(1u64.into()),
                    vectors: Some(NamedVectors::default().add_vector("txt", vec![1.0]).into()),
                }],
            )
            .wait(true),
        )
        .await,
        Code::InvalidArgument,
        "update_vectors with a wrong dimension",
    );
    expect_code(
        c.update_vectors(
            UpdatePointVectorsBuilder::new(
                "nv",
                vec![PointVectors {
                    id: Some(1u64.into()),
                    vectors: Some(
                        NamedVectors::default()
                            .add_vector("audio", vec![1.0])
                            .into(),
                    ),
                }],
            )
            .wait(true),
        )
        .await,
        Code::InvalidArgument,
        "update_vectors with an unknown vector name",
    );
    expect_code(
        c.update_vectors(
            UpdatePointVectorsBuilder::new(
                "nv",
                vec![PointVectors {
                    id: Some(99u64.into()),
                    vectors: Some(
                        NamedVectors::default()
                            .add_vector("txt", vec![1.0, 2.0])
                            .into(),
                    ),
                }],
            )
            .wait(true),
        )
        .await,
        Code::NotFound,
        "update_vectors of a missing point",
    );
    assert_eq!(
        named_of(&get(&c, "nv", &[Id::Num(1)]).await[&Id::Num(1)].vectors)["txt"],
        vec![-7.0, 7.5],
        "failed updates change nothing"
    );

    // delete points by ids, then by filter
    c.delete_points(
        DeletePointsBuilder::new("nv")
            .points(PointsIdsList {
                ids: vec![1u64.into(), 2u64.into(), 77u64.into()],
            })
            .wait(true),
    )
    .await
    .unwrap();
    assert_eq!(count(&c, "nv").await, 4);
    c.delete_points(
        DeletePointsBuilder::new("nv")
            .points(Filter::must([Condition::matches("odd", true)]))
            .wait(true),
    )
    .await
    .unwrap();
    let left: Vec<Id> = c
        .scroll(ScrollPointsBuilder::new("nv").limit(10))
        .await
        .unwrap()
        .result
        .iter()
        .map(|p| id_of(&p.id))
        .collect();
    assert_eq!(left, [Id::Num(4), Id::Num(6)]);

    drop(c);
    srv.stop();
}
