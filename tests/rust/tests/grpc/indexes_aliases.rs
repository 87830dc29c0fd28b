//! Field indexes and collection aliases through the official client.
//!
//! Indexes: create keyword / integer / float / bool indexes (nested paths
//! too), see them in `payload_schema` of the collection info with their
//! types and point counts, check that every filter case of the search module
//! still matches the brute force with the indexes in place, delete one.
//! Aliases: create, list (all and per collection), read / write / query
//! through an alias, rename, delete, aliases of a deleted collection vanish,
//! error codes.  Written as Qdrant 1.19 behaves.

use qdrant_client::qdrant::{
    AliasDescription, CountPointsBuilder, CreateAliasBuilder, CreateFieldIndexCollectionBuilder,
    DeleteFieldIndexCollectionBuilder, FieldType, PayloadSchemaType, PointStruct,
    QueryPointsBuilder, RenameAliasBuilder,
};
use qdrant_client::Qdrant;
use quiver_rust_acceptance::{assert_ranking, expect_code, id_of, rank, Dist, Id, Rng, Server};
use serde_json::json;
use tonic::Code;

use crate::common::*;
use crate::search::{dataset, filter_cases, load, Pt, DISTS};

async fn check_filters(c: &Qdrant, pts: &[Pt], what: &str) {
    let mut rng = Rng::new(5);
    for (case, filter, pred) in filter_cases() {
        let matching: Vec<(Id, &[f32])> = pts
            .iter()
            .filter(|p| pred(p))
            .map(|p| (Id::Num(p.id), &p.vec[..]))
            .collect();
        let n = c
            .count(
                CountPointsBuilder::new("data")
                    .filter(filter.clone())
                    .exact(true),
            )
            .await
            .unwrap()
            .result
            .unwrap()
            .count;
        assert_eq!(n, matching.len() as u64, "{what}: count {case}");
        let (name, dist) = DISTS[rng.below(4) as usize];
        let q = rng.vector(crate::search::DIM);
        let r = c
            .query(
                QueryPointsBuilder::new("data")
                    .query(q.clone())
                    .using(name)
                    .filter(filter)
                    .limit(10),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {case}: {e}"));
        let got: Vec<(Id, f32)> = r.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
        assert_ranking(
            &got,
            &rank(dist, &q, &matching),
            10,
            &format!("{what}: {case} / {name}"),
        );
    }
}

#[tokio::test]
async fn field_indexes() {
    let srv = Server::start();
    let c = srv.client();
    let pts = dataset(45);
    load(&c, "data", &pts).await;

    let fields = [
        ("color", FieldType::Keyword, PayloadSchemaType::Keyword),
        ("n", FieldType::Integer, PayloadSchemaType::Integer),
        ("price", FieldType::Float, PayloadSchemaType::Float),
        ("even", FieldType::Bool, PayloadSchemaType::Bool),
        ("tags", FieldType::Keyword, PayloadSchemaType::Keyword),
        ("meta.level", FieldType::Integer, PayloadSchemaType::Integer),
        (
            "meta.owner.name",
            FieldType::Keyword,
            PayloadSchemaType::Keyword,
        ),
    ];
    for (f, t, _) in fields {
        let r = c
            .create_field_index(CreateFieldIndexCollectionBuilder::new("data", f, t).wait(true))
            .await
            .unwrap_or_else(|e| panic!("create index on {f}: {e}"));
        assert!(r.result.unwrap().operation_id.is_some());
    }
    let info = c.collection_info("data").await.unwrap().result.unwrap();
    let schema = &info.payload_schema;
    let mut keys: Vec<&String> = schema.keys().collect();
    keys.sort();
    let mut want_keys: Vec<&str> = fields.iter().map(|f| f.0).collect();
    want_keys.sort();
    assert_eq!(keys, want_keys, "payload_schema keys");
    for (f, _, st) in fields {
        assert_eq!(schema[f].data_type, st as i32, "schema type of {f}");
    }
    assert_eq!(
        schema["color"].points,
        Some(pts.len() as u64),
        "indexed points of color"
    );
    let with_tags = pts.iter().filter(|p| !p.tags.is_empty()).count() as u64;
    assert_eq!(
        schema["tags"].points,
        Some(with_tags),
        "indexed points of tags"
    );

    check_filters(&c, &pts, "with indexes").await;

    // points written after the index is built are found through it
    upsert(
        &c,
        "data",
        vec![PointStruct::new(
            1000u64,
            qdrant_client::qdrant::NamedVectors::default().add_vector("dot", vec![0.0; 6]),
            payload(json!({"color": "purple"})),
        )],
    )
    .await;
    let n = c
        .count(
            CountPointsBuilder::new("data")
                .filter(qdrant_client::qdrant::Filter::must([
                    qdrant_client::qdrant::Condition::matches("color", "purple".to_string()),
                ]))
                .exact(true),
        )
        .await
        .unwrap()
        .result
        .unwrap()
        .count;
    assert_eq!(n, 1);
    c.delete_points(
        qdrant_client::qdrant::DeletePointsBuilder::new("data")
            .points(qdrant_client::qdrant::PointsIdsList {
                ids: vec![1000u64.into()],
            })
            .wait(true),
    )
    .await
    .unwrap();

    // delete one index
    let r = c
        .delete_field_index(DeleteFieldIndexCollectionBuilder::new("data", "color").wait(true))
        .await
        .unwrap();
    assert!(r.result.unwrap().operation_id.is_some());
    let info = c.collection_info("data").await.unwrap().result.unwrap();
    assert!(!info.payload_schema.contains_key("color"));
    assert_eq!(info.payload_schema.len(), fields.len() - 1);
    check_filters(&c, &pts, "after deleting the color index").await;

    expect_code(
        c.create_field_index(
            CreateFieldIndexCollectionBuilder::new("absent", "color", FieldType::Keyword)
                .wait(true),
        )
        .await,
        Code::NotFound,
        "create index on a missing collection",
    );

    drop(c);
    srv.stop();
}

fn sorted_aliases(mut v: Vec<AliasDescription>) -> Vec<(String, String)> {
    v.sort_by(|a, b| a.alias_name.cmp(&b.alias_name));
    v.into_iter()
        .map(|a| (a.alias_name, a.collection_name))
        .collect()
}

fn pair(a: &str, c: &str) -> (String, String) {
    (a.to_string(), c.to_string())
}

#[tokio::test]
async fn aliases() {
    let srv = Server::start();
    let c = srv.client();
    create(&c, "c1", 2, Dist::Dot).await;
    create(&c, "c2", 2, Dist::Dot).await;
    upsert(
        &c,
        "c1",
        vec![
            PointStruct::new(1u64, vec![1.0, 0.0], payload(json!({"in": "c1"}))),
            PointStruct::new(2u64, vec![0.0, 1.0], payload(json!({"in": "c1"}))),
        ],
    )
    .await;
    upsert(
        &c,
        "c2",
        vec![PointStruct::new(
            5u64,
            vec![1.0, 1.0],
            payload(json!({"in": "c2"})),
        )],
    )
    .await;
    assert!(c.list_aliases().await.unwrap().aliases.is_empty());

    assert!(
        c.create_alias(CreateAliasBuilder::new("c1", "a1"))
            .await
            .unwrap()
            .result
    );
    assert!(
        c.create_alias(CreateAliasBuilder::new("c2", "b2"))
            .await
            .unwrap()
            .result
    );
    assert_eq!(
        sorted_aliases(c.list_aliases().await.unwrap().aliases),
        [pair("a1", "c1"), pair("b2", "c2")]
    );
    assert_eq!(
        sorted_aliases(c.list_collection_aliases("c1").await.unwrap().aliases),
        [pair("a1", "c1")]
    );

    // reads and writes through the alias reach the collection
    let r = c
        .query(
            QueryPointsBuilder::new("a1")
                .query(vec![1.0, 0.1])
                .limit(5)
                .with_payload(true),
        )
        .await
        .unwrap();
    assert_eq!(
        r.result.iter().map(|p| id_of(&p.id)).collect::<Vec<_>>(),
        [Id::Num(1), Id::Num(2)]
    );
    assert!((r.result[0].score - 1.0).abs() < 1e-6);
    assert_eq!(
        quiver_rust_acceptance::payload_json(&r.result[0].payload),
        json!({"in": "c1"})
    );
    upsert(
        &c,
        "a1",
        vec![PointStruct::new(3u64, vec![2.0, 2.0], payload(json!({})))],
    )
    .await;
    assert_eq!(count(&c, "c1").await, 3);
    assert_eq!(count(&c, "a1").await, 3);
    let info = c.collection_info("a1").await.unwrap().result.unwrap();
    assert_eq!(info.points_count, Some(3));

    // rename
    assert!(
        c.rename_alias(RenameAliasBuilder::new("a1", "a1_new"))
            .await
            .unwrap()
            .result
    );
    assert_eq!(
        sorted_aliases(c.list_aliases().await.unwrap().aliases),
        [pair("a1_new", "c1"), pair("b2", "c2")]
    );
    assert_eq!(count(&c, "a1_new").await, 3);
    expect_code(
        c.query(QueryPointsBuilder::new("a1").query(vec![1.0, 0.0]).limit(1))
            .await,
        Code::NotFound,
        "query through a renamed-away alias",
    );

    // errors
    expect_code(
        c.create_alias(CreateAliasBuilder::new("nope", "a3")).await,
        Code::NotFound,
        "alias of a missing collection",
    );
    expect_code(
        c.rename_alias(RenameAliasBuilder::new("never", "other"))
            .await,
        Code::NotFound,
        "renaming a missing alias",
    );
    expect_code(
        c.create_alias(CreateAliasBuilder::new("c1", "c2")).await,
        Code::AlreadyExists, // REST 409 in Qdrant
        "an alias named like an existing collection",
    );
    expect_code(
        c.create_collection(
            qdrant_client::qdrant::CreateCollectionBuilder::new("b2").vectors_config(
                qdrant_client::qdrant::VectorParamsBuilder::new(
                    2,
                    qdrant_client::qdrant::Distance::Dot,
                ),
            ),
        )
        .await,
        Code::InvalidArgument, // REST 400 in Qdrant
        "a collection named like an existing alias",
    );

    // delete an alias; the collection stays
    assert!(c.delete_alias("a1_new").await.unwrap().result);
    assert_eq!(
        sorted_aliases(c.list_aliases().await.unwrap().aliases),
        [pair("b2", "c2")]
    );
    assert!(c.collection_exists("c1").await.unwrap());
    expect_code(
        c.collection_info("a1_new").await,
        Code::NotFound,
        "info through a deleted alias",
    );

    // deleting a collection removes its aliases
    assert!(c.delete_collection("c2").await.unwrap().result);
    assert!(c.list_aliases().await.unwrap().aliases.is_empty());

    drop(c);
    srv.stop();
}
