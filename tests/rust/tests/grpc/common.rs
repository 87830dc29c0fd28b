//! Small wrappers over the official client shared by the test modules:
//! create a collection, upsert with `wait`, read points back by id, count.
//! Everything goes through `qdrant_client::Qdrant`; nothing here talks
//! protobuf directly.

use std::collections::HashMap;

use qdrant_client::qdrant::{
    CountPointsBuilder, CreateCollectionBuilder, GetPointsBuilder, PointId, PointStruct,
    RetrievedPoint, UpsertPointsBuilder, VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant};
use quiver_rust_acceptance::{id_of, Dist, Id};
use serde_json::Value as Json;

pub async fn create(c: &Qdrant, name: &str, dim: u64, dist: Dist) {
    let r = c
        .create_collection(
            CreateCollectionBuilder::new(name)
                .vectors_config(VectorParamsBuilder::new(dim, dist.api())),
        )
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    assert!(r.result, "create {name}: result false");
}

pub async fn create_named(c: &Qdrant, name: &str, vectors: &[(&str, u64, Dist)]) {
    let mut vc = VectorsConfigBuilder::default();
    for (n, dim, dist) in vectors {
        vc.add_named_vector_params(*n, VectorParamsBuilder::new(*dim, dist.api()));
    }
    let r = c
        .create_collection(CreateCollectionBuilder::new(name).vectors_config(vc))
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    assert!(r.result);
}

/// A payload from a JSON object literal.
pub fn payload(j: Json) -> Payload {
    Payload::try_from(j).expect("payload must be a JSON object")
}

pub async fn upsert(c: &Qdrant, name: &str, points: Vec<PointStruct>) {
    let r = c
        .upsert_points(UpsertPointsBuilder::new(name, points).wait(true))
        .await
        .unwrap_or_else(|e| panic!("upsert into {name}: {e}"));
    let res = r.result.expect("update result");
    assert_eq!(
        res.status,
        qdrant_client::qdrant::UpdateStatus::Completed as i32,
        "upsert with wait=true must be completed"
    );
    assert!(res.operation_id.is_some(), "operation_id must be set");
}

pub async fn count(c: &Qdrant, name: &str) -> u64 {
    c.count(CountPointsBuilder::new(name).exact(true))
        .await
        .unwrap_or_else(|e| panic!("count {name}: {e}"))
        .result
        .unwrap()
        .count
}

/// Points by id, with payload and vectors, keyed by id.
pub async fn get(c: &Qdrant, name: &str, ids: &[Id]) -> HashMap<Id, RetrievedPoint> {
    let ids: Vec<PointId> = ids.iter().map(PointId::from).collect();
    let r = c
        .get_points(
            GetPointsBuilder::new(name, ids)
                .with_payload(true)
                .with_vectors(true),
        )
        .await
        .unwrap_or_else(|e| panic!("get from {name}: {e}"));
    r.result.into_iter().map(|p| (id_of(&p.id), p)).collect()
}

/// The payload of one point as JSON (panics when the point is missing).
pub async fn payload_of(c: &Qdrant, name: &str, id: u64) -> Json {
    let m = get(c, name, &[Id::Num(id)]).await;
    let p = m
        .get(&Id::Num(id))
        .unwrap_or_else(|| panic!("point {id} missing"));
    quiver_rust_acceptance::payload_json(&p.payload)
}
