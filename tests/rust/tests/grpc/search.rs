//! Query, scroll and count against a brute-force computation over the same
//! seeded random data.
//!
//! One collection holds 240 points with four named vectors (`cos`, `dot`,
//! `l2`, `l1`: the same 6-d data under each distance) and a payload with a
//! keyword, integers, a bool, a double, a keyword list, nested objects and a
//! field that is absent / null / [] / a value.  Points 7 and 100 carry the
//! same vectors as point 50, so exact ties exist and must come in id order.
//! For each filter case (must / should / must_not, match keyword / int /
//! bool / any / except, range, is_empty, is_null, has_id, nested key paths,
//! sub-filters) and each distance, the query result must equal the
//! brute-force top-k of the matching points (scores rel 1e-4, ids in order);
//! count must equal the number of matches, and scroll pages of 7 must list
//! exactly the matching ids in order.  The deprecated Search / SearchBatch
//! RPCs and a gzip-compressing client are checked the same way.

use qdrant_client::config::CompressionEncoding;
use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, Filter, NamedVectors, PointId, PointStruct, QueryPointsBuilder,
    Range, RepeatedIntegers, RepeatedStrings, ScrollPointsBuilder, SearchBatchPointsBuilder,
    SearchPointsBuilder,
};
use qdrant_client::Qdrant;
use quiver_rust_acceptance::{
    assert_ranking, expect_code, id_of, named_of, payload_json, rank, Dist, Id, Rng, Server,
};
use serde_json::{json, Value as Json};
use tonic::Code;

use crate::common::*;

pub const DIM: usize = 6;
const N: u64 = 240;
const COLORS: [&str; 4] = ["red", "green", "blue", "black"];
const TAGS: [&str; 5] = ["x", "y", "z", "w", "v"];
const OWNERS: [&str; 3] = ["alice", "bob", "carol"];
pub const DISTS: [(&str, Dist); 4] = [
    ("cos", Dist::Cosine),
    ("dot", Dist::Dot),
    ("l2", Dist::Euclid),
    ("l1", Dist::Manhattan),
];

#[derive(Clone, Debug)]
pub struct Pt {
    pub id: u64,
    pub vec: Vec<f32>,
    pub color: &'static str,
    pub n: i64,
    pub even: bool,
    pub price: f64,
    pub tags: Vec<&'static str>,
    pub level: i64,
    pub owner: &'static str,
    /// 0: field absent, 1: null, 2: [], 3: an integer
    pub opt_kind: u8,
}

impl Pt {
    pub fn payload(&self) -> Json {
        let mut p = json!({
            "color": self.color,
            "n": self.n,
            "even": self.even,
            "price": self.price,
            "tags": self.tags,
            "meta": {"level": self.level, "owner": {"name": self.owner}},
        });
        match self.opt_kind {
            0 => {}
            1 => p["opt"] = Json::Null,
            2 => p["opt"] = json!([]),
            _ => p["opt"] = json!(self.n),
        }
        p
    }
}

pub fn dataset(seed: u64) -> Vec<Pt> {
    let mut rng = Rng::new(seed);
    let mut pts: Vec<Pt> = (1..=N)
        .map(|id| {
            let ntags = rng.below(4) as usize;
            Pt {
                id,
                vec: rng.vector(DIM),
                color: COLORS[rng.below(4) as usize],
                n: id as i64,
                even: id % 2 == 0,
                price: (rng.below(1_000_000) as f64) / 100.0 + 0.005,
                tags: (0..ntags).map(|_| TAGS[rng.below(5) as usize]).collect(),
                level: rng.below(5) as i64,
                owner: OWNERS[rng.below(3) as usize],
                opt_kind: (id % 4) as u8,
            }
        })
        .collect();
    // exact ties: 7 and 100 share point 50's vector
    let v50 = pts[49].vec.clone();
    pts[6].vec = v50.clone();
    pts[99].vec = v50;
    pts
}

pub async fn load(c: &Qdrant, name: &str, pts: &[Pt]) {
    create_named(c, name, &DISTS.map(|(n, d)| (n, DIM as u64, d))).await;
    for chunk in pts.chunks(100) {
        let points: Vec<PointStruct> = chunk
            .iter()
            .map(|p| {
                let mut v = NamedVectors::default();
                for (n, _) in DISTS {
                    v = v.add_vector(n, p.vec.clone());
                }
                PointStruct::new(p.id, v, payload(p.payload()))
            })
            .collect();
        upsert(c, name, points).await;
    }
    assert_eq!(count(c, name).await, pts.len() as u64);
}

pub type Pred = Box<dyn Fn(&Pt) -> bool>;

fn kw(v: &str) -> MatchValue {
    MatchValue::Keyword(v.to_string())
}

/// (name, filter, the same predicate written in Rust)
pub fn filter_cases() -> Vec<(&'static str, Filter, Pred)> {
    let primes = [2u64, 3, 5, 7, 11, 13, 50, 100, 101, 233, 1000];
    vec![
        (
            "match keyword",
            Filter::must([Condition::matches("color", kw("red"))]),
            Box::new(|p: &Pt| p.color == "red"),
        ),
        (
            "match int",
            Filter::must([Condition::matches("n", 17i64)]),
            Box::new(|p: &Pt| p.n == 17),
        ),
        (
            "match bool",
            Filter::must([Condition::matches("even", true)]),
            Box::new(|p: &Pt| p.even),
        ),
        (
            "match any keywords",
            Filter::must([Condition::matches(
                "color",
                vec!["red".to_string(), "blue".to_string()],
            )]),
            Box::new(|p: &Pt| p.color == "red" || p.color == "blue"),
        ),
        (
            "match any integers",
            Filter::must([Condition::matches("n", vec![1i64, 2, 3, 120, 500])]),
            Box::new(|p: &Pt| [1, 2, 3, 120].contains(&p.n)),
        ),
        (
            "match except keywords",
            Filter::must([Condition::matches(
                "color",
                MatchValue::ExceptKeywords(RepeatedStrings {
                    strings: vec!["red".into(), "green".into()],
                }),
            )]),
            Box::new(|p: &Pt| p.color != "red" && p.color != "green"),
        ),
        (
            "match except integers (nested key)",
            Filter::must([Condition::matches(
                "meta.level",
                MatchValue::ExceptIntegers(RepeatedIntegers {
                    integers: vec![0, 1],
                }),
            )]),
            Box::new(|p: &Pt| p.level >= 2),
        ),
        (
            "match keyword in an array",
            Filter::must([Condition::matches("tags", kw("x"))]),
            Box::new(|p: &Pt| p.tags.contains(&"x")),
        ),
        (
            "range double",
            Filter::must([Condition::range(
                "price",
                Range {
                    gte: Some(2000.0),
                    lt: Some(6050.5),
                    ..Default::default()
                },
            )]),
            Box::new(|p: &Pt| p.price >= 2000.0 && p.price < 6050.5),
        ),
        (
            "range int gt/lte",
            Filter::must([Condition::range(
                "n",
                Range {
                    gt: Some(100.0),
                    lte: Some(150.0),
                    ..Default::default()
                },
            )]),
            Box::new(|p: &Pt| p.n > 100 && p.n <= 150),
        ),
        (
            "is_empty",
            Filter::must([Condition::is_empty("opt")]),
            Box::new(|p: &Pt| p.opt_kind <= 2),
        ),
        (
            "is_null",
            Filter::must([Condition::is_null("opt")]),
            Box::new(|p: &Pt| p.opt_kind == 1),
        ),
        (
            "must_not is_empty",
            Filter::must_not([Condition::is_empty("opt")]),
            Box::new(|p: &Pt| p.opt_kind == 3),
        ),
        (
            "has_id",
            Filter::must([Condition::has_id(primes)]),
            Box::new(move |p: &Pt| primes.contains(&p.id)),
        ),
        (
            "nested key path keyword",
            Filter::must([Condition::matches("meta.owner.name", kw("alice"))]),
            Box::new(|p: &Pt| p.owner == "alice"),
        ),
        (
            "should (or)",
            Filter::should([
                Condition::matches("color", kw("green")),
                Condition::range(
                    "n",
                    Range {
                        lt: Some(30.0),
                        ..Default::default()
                    },
                ),
            ]),
            Box::new(|p: &Pt| p.color == "green" || p.n < 30),
        ),
        (
            "must + should + must_not",
            Filter {
                must: vec![Condition::matches("color", kw("red"))],
                should: vec![
                    Condition::matches("even", true),
                    Condition::range(
                        "n",
                        Range {
                            lt: Some(50.0),
                            ..Default::default()
                        },
                    ),
                ],
                must_not: vec![Condition::matches("meta.level", 0i64)],
                ..Default::default()
            },
            Box::new(|p: &Pt| p.color == "red" && (p.even || p.n < 50) && p.level != 0),
        ),
        (
            "sub-filters in should",
            Filter::should([
                Condition::from(Filter::must([
                    Condition::matches("color", kw("blue")),
                    Condition::matches("even", true),
                ])),
                Condition::from(Filter::must([
                    Condition::matches("meta.owner.name", kw("bob")),
                    Condition::matches("tags", kw("z")),
                ])),
            ]),
            Box::new(|p: &Pt| {
                (p.color == "blue" && p.even) || (p.owner == "bob" && p.tags.contains(&"z"))
            }),
        ),
        (
            "must_not has_id and keyword",
            Filter::must_not([
                Condition::has_id((1..=200u64).collect::<Vec<_>>()),
                Condition::matches("color", kw("black")),
            ]),
            Box::new(|p: &Pt| p.id > 200 && p.color != "black"),
        ),
        (
            "matches nothing",
            Filter::must([Condition::matches("color", kw("purple"))]),
            Box::new(|_: &Pt| false),
        ),
    ]
}

fn query_vec(rng: &mut Rng) -> Vec<f32> {
    rng.vector(DIM)
}

#[tokio::test]
async fn query_by_vector_with_filters_matches_brute_force() {
    let srv = Server::start();
    let c = srv.client();
    let pts = dataset(42);
    load(&c, "data", &pts).await;
    let mut rng = Rng::new(7);

    // no filter, each distance, a few queries, limit 25
    for (name, dist) in DISTS {
        for _ in 0..3 {
            let q = query_vec(&mut rng);
            let cands: Vec<(Id, &[f32])> =
                pts.iter().map(|p| (Id::Num(p.id), &p.vec[..])).collect();
            let want = rank(dist, &q, &cands);
            let r = c
                .query(
                    QueryPointsBuilder::new("data")
                        .query(q.clone())
                        .using(name)
                        .limit(25),
                )
                .await
                .unwrap();
            let got: Vec<(Id, f32)> = r.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
            assert_ranking(&got, &want, 25, &format!("{name} unfiltered"));
        }
    }

    // each filter under each distance
    for (what, filter, pred) in filter_cases() {
        let matching: Vec<&Pt> = pts.iter().filter(|p| pred(p)).collect();
        let cands: Vec<(Id, &[f32])> = matching
            .iter()
            .map(|p| (Id::Num(p.id), &p.vec[..]))
            .collect();
        for (name, dist) in DISTS {
            let q = query_vec(&mut rng);
            let want = rank(dist, &q, &cands);
            let r = c
                .query(
                    QueryPointsBuilder::new("data")
                        .query(q.clone())
                        .using(name)
                        .filter(filter.clone())
                        .limit(10),
                )
                .await
                .unwrap_or_else(|e| panic!("{what} / {name}: {e}"));
            let got: Vec<(Id, f32)> = r.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
            assert_ranking(&got, &want, 10, &format!("{what} / {name}"));
        }
    }

    drop(c);
    srv.stop();
}

#[tokio::test]
async fn query_details_offset_threshold_payload_by_id() {
    let srv = Server::start();
    let c = srv.client();
    let pts = dataset(43);
    load(&c, "data", &pts).await;
    let cands: Vec<(Id, &[f32])> = pts.iter().map(|p| (Id::Num(p.id), &p.vec[..])).collect();
    let mut rng = Rng::new(99);

    // offset is a count of skipped results
    let q = query_vec(&mut rng);
    let want = rank(Dist::Dot, &q, &cands);
    let r = c
        .query(
            QueryPointsBuilder::new("data")
                .query(q.clone())
                .using("dot")
                .offset(5)
                .limit(7),
        )
        .await
        .unwrap();
    let got: Vec<(Id, f32)> = r.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
    assert_ranking(&got, &want[5..], 7, "dot offset 5");

    // score_threshold: Dot keeps score > t, Euclid keeps distance < t; t is
    // put in a gap of the brute-force ranking wider than the float noise
    let gap_at = |want: &[(Id, f64)], from: usize| {
        (from..want.len())
            .find(|&k| (want[k - 1].1 - want[k].1).abs() > 1e-3)
            .expect("a gap in the ranking")
    };
    let k = gap_at(&want, 12);
    let t = ((want[k - 1].1 + want[k].1) / 2.0) as f32;
    let r = c
        .query(
            QueryPointsBuilder::new("data")
                .query(q.clone())
                .using("dot")
                .score_threshold(t)
                .limit(100),
        )
        .await
        .unwrap();
    let got: Vec<(Id, f32)> = r.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
    assert_ranking(
        &got,
        &want,
        k,
        &format!("dot with threshold between ranks {} and {k}", k - 1),
    );
    let want_l2 = rank(Dist::Euclid, &q, &cands);
    let k = gap_at(&want_l2, 10);
    let t2 = ((want_l2[k - 1].1 + want_l2[k].1) / 2.0) as f32;
    let r = c
        .query(
            QueryPointsBuilder::new("data")
                .query(q.clone())
                .using("l2")
                .score_threshold(t2)
                .limit(100),
        )
        .await
        .unwrap();
    let got: Vec<(Id, f32)> = r.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
    assert_ranking(
        &got,
        &want_l2,
        k,
        &format!("l2 with threshold between ranks {} and {k}", k - 1),
    );

    // with payload and vectors
    let r = c
        .query(
            QueryPointsBuilder::new("data")
                .query(q.clone())
                .using("l1")
                .limit(5)
                .with_payload(true)
                .with_vectors(true),
        )
        .await
        .unwrap();
    assert_eq!(r.result.len(), 5);
    for hit in &r.result {
        let Id::Num(id) = id_of(&hit.id) else {
            panic!("numeric ids only")
        };
        let p = &pts[id as usize - 1];
        assert_eq!(
            payload_json(&hit.payload),
            p.payload(),
            "payload of hit {id}"
        );
        let vs = named_of(&hit.vectors);
        assert_eq!(vs.len(), 4);
        assert_eq!(
            vs["dot"], p.vec,
            "dot vector of hit {id} is returned as stored"
        );
        assert_eq!(vs["l1"], p.vec);
    }

    // query by point id: that point is excluded, its vector is the query;
    // 7 and 100 (the same vector as 50) come first, in id order
    let others: Vec<(Id, &[f32])> = cands
        .iter()
        .filter(|c| c.0 != Id::Num(50))
        .cloned()
        .collect();
    for (name, dist) in DISTS {
        let want = rank(dist, &pts[49].vec, &others);
        let r = c
            .query(
                QueryPointsBuilder::new("data")
                    .query(PointId::from(50u64))
                    .using(name)
                    .limit(8),
            )
            .await
            .unwrap();
        let got: Vec<(Id, f32)> = r.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
        assert_ranking(&got, &want, 8, &format!("{name} by id 50"));
        if dist != Dist::Dot {
            // the same vector is the best possible hit except under Dot
            assert_eq!(
                got[..2].iter().map(|g| g.0.clone()).collect::<Vec<_>>(),
                [Id::Num(7), Id::Num(100)],
                "{name}: exact ties in id order"
            );
        }
    }
    expect_code(
        c.query(
            QueryPointsBuilder::new("data")
                .query(PointId::from(9999u64))
                .using("dot")
                .limit(3),
        )
        .await,
        Code::NotFound,
        "query by a missing point id",
    );

    // user errors of query
    expect_code(
        c.query(
            QueryPointsBuilder::new("data")
                .query(vec![1.0, 2.0])
                .using("dot")
                .limit(3),
        )
        .await,
        Code::InvalidArgument,
        "query with a wrong dimension",
    );
    expect_code(
        c.query(
            QueryPointsBuilder::new("data")
                .query(vec![0.5; DIM])
                .using("audio")
                .limit(3),
        )
        .await,
        Code::InvalidArgument,
        "query using an unknown vector name",
    );
    expect_code(
        c.query(
            QueryPointsBuilder::new("data")
                .query(vec![0.5; DIM])
                .limit(3),
        )
        .await,
        Code::InvalidArgument,
        "query without `using` on a collection that has only named vectors",
    );

    drop(c);
    srv.stop();
}

#[tokio::test]
async fn count_and_scroll_pagination_with_filters() {
    let srv = Server::start();
    let c = srv.client();
    let pts = dataset(44);
    load(&c, "data", &pts).await;

    let mut cases = filter_cases();
    cases.push(("no filter", Filter::default(), Box::new(|_: &Pt| true)));
    for (what, filter, pred) in cases {
        let want: Vec<Id> = pts
            .iter()
            .filter(|p| pred(p))
            .map(|p| Id::Num(p.id))
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
        assert_eq!(n, want.len() as u64, "count {what}");

        let mut seen = Vec::new();
        let mut offset: Option<PointId> = None;
        let mut pages = 0;
        loop {
            let mut b = ScrollPointsBuilder::new("data")
                .filter(filter.clone())
                .limit(7)
                .with_payload(false);
            if let Some(o) = offset.take() {
                b = b.offset(o);
            }
            let r = c.scroll(b).await.unwrap();
            assert!(r.result.len() <= 7);
            for p in &r.result {
                assert!(p.payload.is_empty(), "with_payload(false)");
                seen.push(id_of(&p.id));
            }
            pages += 1;
            assert!(pages <= 40, "{what}: scroll does not end");
            match r.next_page_offset {
                Some(o) => {
                    assert_eq!(r.result.len(), 7, "{what}: a page before the last is full");
                    offset = Some(o)
                }
                None => break,
            }
        }
        assert_eq!(seen, want, "scroll {what}");
        assert_eq!(
            pages,
            want.len().div_ceil(7).max(1),
            "{what}: number of pages"
        );
    }

    // scroll defaults: payload on, vectors off
    let r = c
        .scroll(ScrollPointsBuilder::new("data").limit(3))
        .await
        .unwrap();
    assert_eq!(r.result.len(), 3);
    for p in &r.result {
        let Id::Num(id) = id_of(&p.id) else { panic!() };
        assert_eq!(payload_json(&p.payload), pts[id as usize - 1].payload());
        assert!(p.vectors.is_none());
    }
    assert_eq!(id_of(&r.next_page_offset), Id::Num(4));

    drop(c);
    srv.stop();
}

/// The deprecated Search / SearchBatch RPCs (still used by current clients)
/// agree with the brute force, filter and `vector_name` included.
#[tokio::test]
async fn deprecated_search_and_search_batch() {
    let srv = Server::start();
    let c = srv.client();
    let pts = dataset(46);
    load(&c, "data", &pts).await;
    let mut rng = Rng::new(11);
    let cases = filter_cases();
    let mut batch = Vec::new();
    let mut wants = Vec::new();
    for (k, (what, filter, pred)) in cases.iter().enumerate().take(6) {
        let (name, dist) = DISTS[k % 4];
        let q = query_vec(&mut rng);
        let cands: Vec<(Id, &[f32])> = pts
            .iter()
            .filter(|p| pred(p))
            .map(|p| (Id::Num(p.id), &p.vec[..]))
            .collect();
        let want = rank(dist, &q, &cands);
        let req = SearchPointsBuilder::new("data", q.clone(), 8)
            .vector_name(name)
            .filter(filter.clone())
            .with_payload(true);
        let r = c.search_points(req.clone()).await.unwrap();
        let got: Vec<(Id, f32)> = r.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
        assert_ranking(&got, &want, 8, &format!("Search {what} / {name}"));
        for hit in &r.result {
            let Id::Num(id) = id_of(&hit.id) else {
                panic!()
            };
            assert_eq!(payload_json(&hit.payload), pts[id as usize - 1].payload());
        }
        batch.push(req.build());
        wants.push((format!("SearchBatch {what} / {name}"), want));
    }
    let r = c
        .search_batch_points(SearchBatchPointsBuilder::new("data", batch))
        .await
        .unwrap();
    assert_eq!(r.result.len(), wants.len());
    for (res, (what, want)) in r.result.iter().zip(&wants) {
        let got: Vec<(Id, f32)> = res.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
        assert_ranking(&got, want, 8, what);
    }

    drop(c);
    srv.stop();
}

/// A client with gzip compression on and an `api-key` header (no key is
/// configured on the server, so it is ignored) writes and reads correctly.
#[tokio::test]
async fn gzip_and_api_key_client() {
    let srv = Server::start();
    let c = Qdrant::from_url(&srv.grpc_url())
        .compression(Some(CompressionEncoding::Gzip))
        .api_key("some-key")
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let pts = dataset(47);
    load(&c, "data", &pts).await; // 100-point batches, compressed
    let mut rng = Rng::new(3);
    let q = query_vec(&mut rng);
    let cands: Vec<(Id, &[f32])> = pts.iter().map(|p| (Id::Num(p.id), &p.vec[..])).collect();
    let r = c
        .query(
            QueryPointsBuilder::new("data")
                .query(q.clone())
                .using("l2")
                .limit(20)
                .with_payload(true),
        )
        .await
        .unwrap();
    let got: Vec<(Id, f32)> = r.result.iter().map(|p| (id_of(&p.id), p.score)).collect();
    assert_ranking(&got, &rank(Dist::Euclid, &q, &cands), 20, "gzip query");
    for hit in &r.result {
        let Id::Num(id) = id_of(&hit.id) else {
            panic!()
        };
        assert_eq!(payload_json(&hit.payload), pts[id as usize - 1].payload());
    }
    drop(c);
    srv.stop();
}
