//! qdrant.Collections through the official client: create with various
//! parameters (single and named vectors, HNSW / optimizer / payload
//! settings), info (configuration echoed back), list, exists, update,
//! delete (true, then false for a missing one) and the error codes of the
//! collection calls.
//!
//! `on_disk` / `on_disk_payload` are deprecated in the 1.20 client (Qdrant
//! 1.20 adds `memory`) but are the Qdrant 1.19 API that Quiver implements.
#![allow(deprecated)]

use qdrant_client::qdrant::vectors_config::Config;
use qdrant_client::qdrant::{
    CollectionParamsDiffBuilder, CollectionStatus, CreateCollectionBuilder, Distance,
    HnswConfigDiffBuilder, OptimizersConfigDiffBuilder, UpdateCollectionBuilder,
    VectorParamsBuilder, VectorsConfigBuilder,
};
use quiver_rust_acceptance::{expect_code, Dist, Server};
use tonic::Code;

use crate::common::*;

#[tokio::test]
async fn create_info_list_exists_update_delete() {
    let srv = Server::start();
    let c = srv.client();

    assert!(!c.collection_exists("books").await.unwrap());
    assert!(c.list_collections().await.unwrap().collections.is_empty());

    create(&c, "books", 4, Dist::Dot).await;
    let r = c
        .create_collection(
            CreateCollectionBuilder::new("articles")
                .vectors_config(VectorParamsBuilder::new(8, Distance::Cosine).on_disk(true))
                .hnsw_config(HnswConfigDiffBuilder::default().m(32).ef_construct(200))
                .optimizers_config(OptimizersConfigDiffBuilder::default().indexing_threshold(12345))
                .on_disk_payload(true)
                .shard_number(1)
                .replication_factor(1)
                .write_consistency_factor(1),
        )
        .await
        .unwrap();
    assert!(r.result);
    create_named(
        &c,
        "multi",
        &[("image", 3, Dist::Euclid), ("text", 2, Dist::Manhattan)],
    )
    .await;

    assert!(c.collection_exists("books").await.unwrap());
    assert!(c.collection_exists("articles").await.unwrap());
    assert!(
        !c.collection_exists("Books").await.unwrap(),
        "names are case-sensitive"
    );

    let mut names: Vec<String> = c
        .list_collections()
        .await
        .unwrap()
        .collections
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    assert_eq!(names, ["articles", "books", "multi"]);

    // info: configuration echoed back
    let info = c.collection_info("articles").await.unwrap().result.unwrap();
    assert_eq!(info.status, CollectionStatus::Green as i32);
    assert_eq!(info.points_count, Some(0));
    let cfg = info.config.unwrap();
    let params = cfg.params.unwrap();
    match params.vectors_config.unwrap().config.unwrap() {
        Config::Params(p) => {
            assert_eq!(p.size, 8);
            assert_eq!(p.distance, Distance::Cosine as i32);
            assert_eq!(p.on_disk, Some(true));
        }
        other => panic!("articles: expected single vector params, got {other:?}"),
    }
    assert!(params.on_disk_payload, "on_disk_payload echoed");
    assert_eq!(params.shard_number, 1);
    assert_eq!(params.replication_factor, Some(1));
    assert_eq!(params.write_consistency_factor, Some(1));
    let hnsw = cfg.hnsw_config.unwrap();
    assert_eq!(hnsw.m, Some(32));
    assert_eq!(hnsw.ef_construct, Some(200));
    let opt = cfg.optimizer_config.unwrap();
    assert_eq!(opt.indexing_threshold, Some(12345));

    let info = c.collection_info("multi").await.unwrap().result.unwrap();
    match info
        .config
        .unwrap()
        .params
        .unwrap()
        .vectors_config
        .unwrap()
        .config
        .unwrap()
    {
        Config::ParamsMap(m) => {
            let mut got: Vec<(String, u64, i32)> = m
                .map
                .into_iter()
                .map(|(k, p)| (k, p.size, p.distance))
                .collect();
            got.sort();
            assert_eq!(
                got,
                [
                    ("image".to_string(), 3, Distance::Euclid as i32),
                    ("text".to_string(), 2, Distance::Manhattan as i32)
                ]
            );
        }
        other => panic!("multi: expected named vector params, got {other:?}"),
    }

    // update: optimizer, HNSW and collection params diffs
    let r = c
        .update_collection(
            UpdateCollectionBuilder::new("articles")
                .optimizers_config(OptimizersConfigDiffBuilder::default().indexing_threshold(20000))
                .hnsw_config(HnswConfigDiffBuilder::default().m(8))
                .params(CollectionParamsDiffBuilder::default().on_disk_payload(false)),
        )
        .await
        .unwrap();
    assert!(r.result);
    let cfg = c
        .collection_info("articles")
        .await
        .unwrap()
        .result
        .unwrap()
        .config
        .unwrap();
    assert_eq!(
        cfg.optimizer_config.unwrap().indexing_threshold,
        Some(20000)
    );
    let hnsw = cfg.hnsw_config.unwrap();
    assert_eq!(hnsw.m, Some(8));
    assert_eq!(
        hnsw.ef_construct,
        Some(200),
        "fields not in the diff are kept"
    );
    assert!(!cfg.params.unwrap().on_disk_payload);

    // delete: true, then false for the missing collection
    assert!(c.delete_collection("books").await.unwrap().result);
    assert!(!c.collection_exists("books").await.unwrap());
    assert!(!c.delete_collection("books").await.unwrap().result);
    let mut names: Vec<String> = c
        .list_collections()
        .await
        .unwrap()
        .collections
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    assert_eq!(names, ["articles", "multi"]);

    drop(c);
    srv.stop();
}

#[tokio::test]
async fn collection_errors() {
    let srv = Server::start();
    let c = srv.client();
    create(&c, "present", 4, Dist::Dot).await;

    let msg = expect_code(
        c.create_collection(
            CreateCollectionBuilder::new("present")
                .vectors_config(VectorParamsBuilder::new(4, Distance::Dot)),
        )
        .await,
        Code::AlreadyExists,
        "creating an existing collection",
    );
    assert!(msg.contains("already exists"), "message: {msg}");

    expect_code(
        c.collection_info("absent").await,
        Code::NotFound,
        "info of a missing collection",
    );
    expect_code(
        c.update_collection(
            UpdateCollectionBuilder::new("absent")
                .optimizers_config(OptimizersConfigDiffBuilder::default().indexing_threshold(1)),
        )
        .await,
        Code::NotFound,
        "update of a missing collection",
    );
    expect_code(
        c.create_collection(
            CreateCollectionBuilder::new("zero_dim")
                .vectors_config(VectorParamsBuilder::new(0, Distance::Dot)),
        )
        .await,
        Code::InvalidArgument,
        "vector size 0",
    );
    expect_code(
        c.create_collection(
            CreateCollectionBuilder::new("huge_dim")
                .vectors_config(VectorParamsBuilder::new(65537, Distance::Dot)),
        )
        .await,
        Code::InvalidArgument,
        "vector size 65537",
    );
    expect_code(
        c.create_collection(
            CreateCollectionBuilder::new("bad/name")
                .vectors_config(VectorParamsBuilder::new(4, Distance::Dot)),
        )
        .await,
        Code::InvalidArgument,
        "a collection name with '/'",
    );
    expect_code(
        c.create_collection(
            CreateCollectionBuilder::new("")
                .vectors_config(VectorParamsBuilder::new(4, Distance::Dot)),
        )
        .await,
        Code::InvalidArgument,
        "an empty collection name",
    );
    let mut vc = VectorsConfigBuilder::default();
    vc.add_named_vector_params("v", VectorParamsBuilder::new(4, Distance::UnknownDistance));
    expect_code(
        c.create_collection(CreateCollectionBuilder::new("no_distance").vectors_config(vc))
            .await,
        Code::InvalidArgument,
        "distance UnknownDistance",
    );

    // nothing of the failed creations exists
    let names: Vec<String> = c
        .list_collections()
        .await
        .unwrap()
        .collections
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["present"]);

    drop(c);
    srv.stop();
}
