// Query through the Go client, checked against brute force in Go
// (brute_test.go): nearest by vector for each distance, by point id (the
// point itself excluded), named vectors with `using`, offset, score
// threshold, ties by id, QueryBatch and the deprecated Search; and the filter
// language (must/should/must_not, match keyword/int/bool/any/except, range,
// is_empty, is_null, has_id, nested key paths, arrays, nested objects), each
// filter checked through Query, Count and Scroll against a Go predicate.
package grpcapi

import (
	"fmt"
	"slices"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
)

const qDim = 8

func queryVec(seed int64) []float32 {
	return genDocs(1, qDim, seed)[0].vec
}

func TestQueryNearestEveryDistance(t *testing.T) {
	docs := genDocs(300, qDim, 1)
	for _, dist := range []qdrant.Distance{qdrant.Distance_Cosine, qdrant.Distance_Dot, qdrant.Distance_Euclid, qdrant.Distance_Manhattan} {
		t.Run(dist.String(), func(t *testing.T) {
			name := simpleCollection(t, qDim, dist)
			upsert(t, name, points(docs, false)...)
			for seed := int64(100); seed < 105; seed++ {
				q := queryVec(seed)
				want := bruteForce(docs, dist, q, func(d *doc) []float32 { return d.vec }, nil)
				got, err := client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name,
					Query: qdrant.NewQueryDense(q), Limit: qdrant.PtrOf(uint64(15))})
				require.NoError(t, err)
				checkRanking(t, fmt.Sprintf("%v seed %d", dist, seed), got, window(want, 0, 15))

				// offset is a count of results to skip
				got, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name,
					Query: qdrant.NewQueryDense(q), Limit: qdrant.PtrOf(uint64(7)), Offset: qdrant.PtrOf(uint64(20))})
				require.NoError(t, err)
				checkRanking(t, fmt.Sprintf("%v seed %d offset 20", dist, seed), got, window(want, 20, 7))
			}

			// Default limit is 10; query defaults to no payload and no vectors.
			q := queryVec(7)
			got, err := client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryDense(q)})
			require.NoError(t, err)
			want := bruteForce(docs, dist, q, func(d *doc) []float32 { return d.vec }, nil)
			checkRanking(t, "default limit", got, window(want, 0, 10))
			require.Empty(t, got[0].GetPayload())
			require.Nil(t, got[0].GetVectors())

			// Query by point id: the point itself is excluded.
			pid := docs[42].id
			got, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name,
				Query: qdrant.NewQueryID(qdrant.NewIDNum(pid)), Limit: qdrant.PtrOf(uint64(12))})
			require.NoError(t, err)
			want = bruteForce(docs, dist, docs[42].vec, func(d *doc) []float32 { return d.vec },
				func(d *doc) bool { return d.id != pid })
			checkRanking(t, "query by id", got, window(want, 0, 12))

			// score_threshold keeps only strictly better scores.
			thr := want[5].score
			got, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name,
				Query: qdrant.NewQueryID(qdrant.NewIDNum(pid)), Limit: qdrant.PtrOf(uint64(50)),
				ScoreThreshold: qdrant.PtrOf(float32(thr))})
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(got), 4)
			require.LessOrEqual(t, len(got), 6)
			checkRanking(t, "score threshold", got, window(want, 0, len(got)))
		})
	}
}

func TestQueryNamedVectorsAndPayload(t *testing.T) {
	docs := genDocs(120, qDim, 3)
	name := newCollection(t, &qdrant.CreateCollection{
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			"a": {Size: qDim, Distance: qdrant.Distance_Dot},
			"b": {Size: 3, Distance: qdrant.Distance_Euclid},
		}),
	})
	upsert(t, name, points(docs, true)...)

	q := queryVec(9)
	got, err := client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryDense(q),
		Using: qdrant.PtrOf("a"), Limit: qdrant.PtrOf(uint64(5)),
		WithPayload: qdrant.NewWithPayloadInclude("city", "n"), WithVectors: qdrant.NewWithVectorsInclude("b")})
	require.NoError(t, err)
	want := bruteForce(docs, qdrant.Distance_Dot, q, func(d *doc) []float32 { return d.vec }, nil)
	checkRanking(t, "using a", got, window(want, 0, 5))
	byID := map[uint64]*doc{}
	for _, d := range docs {
		byID[d.id] = d
	}
	for _, p := range got {
		d := byID[p.GetId().GetNum()]
		requirePayload(t, qdrant.NewValueMap(map[string]any{"city": d.city, "n": d.n}), p.GetPayload())
		vs := p.GetVectors().GetVectors().GetVectors()
		require.Len(t, vs, 1)
		require.Equal(t, d.vecB, denseOf(vs["b"]))
	}

	qb := []float32{0.5, -0.25, 1}
	got, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryDense(qb),
		Using: qdrant.PtrOf("b"), Limit: qdrant.PtrOf(uint64(8))})
	require.NoError(t, err)
	want = bruteForce(docs, qdrant.Distance_Euclid, qb, func(d *doc) []float32 { return d.vecB }, nil)
	checkRanking(t, "using b", got, window(want, 0, 8))

	// QueryBatch answers each query as the single query does.
	batch, err := client.QueryBatch(ctx(t), &qdrant.QueryBatchPoints{CollectionName: name, QueryPoints: []*qdrant.QueryPoints{
		{CollectionName: name, Query: qdrant.NewQueryDense(q), Using: qdrant.PtrOf("a"), Limit: qdrant.PtrOf(uint64(4))},
		{CollectionName: name, Query: qdrant.NewQueryDense(qb), Using: qdrant.PtrOf("b"), Limit: qdrant.PtrOf(uint64(6)),
			Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("city", "Rome")}}},
	}})
	require.NoError(t, err)
	require.Len(t, batch, 2)
	checkRanking(t, "batch 0", batch[0].GetResult(),
		window(bruteForce(docs, qdrant.Distance_Dot, q, func(d *doc) []float32 { return d.vec }, nil), 0, 4))
	checkRanking(t, "batch 1", batch[1].GetResult(),
		window(bruteForce(docs, qdrant.Distance_Euclid, qb, func(d *doc) []float32 { return d.vecB },
			func(d *doc) bool { return d.city == "Rome" }), 0, 6))

	// The deprecated Search RPC (still used by clients) gives the same answer.
	sr, err := client.GetPointsClient().Search(ctx(t), &qdrant.SearchPoints{CollectionName: name, Vector: q,
		VectorName: qdrant.PtrOf("a"), Limit: 5})
	require.NoError(t, err)
	checkRanking(t, "Search", sr.GetResult(), window(want0(docs, q), 0, 5))
}

func want0(docs []*doc, q []float32) []ref {
	return bruteForce(docs, qdrant.Distance_Dot, q, func(d *doc) []float32 { return d.vec }, nil)
}

func TestQueryTiesOrderedByID(t *testing.T) {
	name := simpleCollection(t, 2, qdrant.Distance_Dot)
	// Ids inserted out of order; all pairs of equal vectors tie exactly.
	var pts []*qdrant.PointStruct
	for _, id := range []uint64{9, 3, 7, 1, 5, 2, 8, 4, 6} {
		pts = append(pts, &qdrant.PointStruct{Id: qdrant.NewIDNum(id), Vectors: qdrant.NewVectors(float32(id%3), 1)})
	}
	upsert(t, name, pts...)
	got, err := client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuery(1, 0)})
	require.NoError(t, err)
	// scores: id%3 == 2 -> 2, ==1 -> 1, ==0 -> 0
	require.Equal(t, []string{"2", "5", "8", "1", "4", "7", "3", "6", "9"}, scoredIDs(got))

	// No query: points in id order.
	got, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Limit: qdrant.PtrOf(uint64(4))})
	require.NoError(t, err)
	require.Equal(t, []string{"1", "2", "3", "4"}, scoredIDs(got))
}

type filterCase struct {
	name   string
	filter *qdrant.Filter
	keep   func(d *doc) bool
}

func rng(gt, gte, lt, lte *float64) *qdrant.Range {
	return &qdrant.Range{Gt: gt, Gte: gte, Lt: lt, Lte: lte}
}
func f64(v float64) *float64 { return &v }

func filterCases() []filterCase {
	must := func(c ...*qdrant.Condition) *qdrant.Filter { return &qdrant.Filter{Must: c} }
	return []filterCase{
		{"match keyword", must(qdrant.NewMatch("city", "Berlin")), func(d *doc) bool { return d.city == "Berlin" }},
		{"match int", must(qdrant.NewMatchInt("n", 3)), func(d *doc) bool { return d.n == 3 }},
		{"match bool", must(qdrant.NewMatchBool("flag", false)), func(d *doc) bool { return !d.flag }},
		{"match any keywords", must(qdrant.NewMatchKeywords("city", "Rome", "Oslo", "Nowhere")),
			func(d *doc) bool { return d.city == "Rome" || d.city == "Oslo" }},
		{"match any ints", must(qdrant.NewMatchInts("n", 0, 9, 4)),
			func(d *doc) bool { return d.n == 0 || d.n == 9 || d.n == 4 }},
		{"match except keywords", must(qdrant.NewMatchExcept("city", "Rome", "Oslo")),
			func(d *doc) bool { return d.city != "Rome" && d.city != "Oslo" }},
		{"match except ints", must(qdrant.NewMatchExceptInts("n", 1, 2, 3)),
			func(d *doc) bool { return d.n < 1 || d.n > 3 }},
		{"match any empty", must(qdrant.NewMatchKeywords("city")), func(d *doc) bool { return false }},
		{"match on array element", must(qdrant.NewMatch("tags", "red")),
			func(d *doc) bool { return slices.Contains(d.tags, "red") }},
		{"match any on array", must(qdrant.NewMatchKeywords("tags", "gold", "blue")),
			func(d *doc) bool { return slices.Contains(d.tags, "gold") || slices.Contains(d.tags, "blue") }},
		{"range int gte lt", must(qdrant.NewRange("n", rng(nil, f64(2), f64(7), nil))),
			func(d *doc) bool { return d.n >= 2 && d.n < 7 }},
		{"range float gt lte", must(qdrant.NewRange("price", rng(f64(25.5), nil, nil, f64(60)))),
			func(d *doc) bool { return d.price > 25.5 && d.price <= 60 }},
		{"should", &qdrant.Filter{Should: []*qdrant.Condition{qdrant.NewMatch("city", "Lima"), qdrant.NewMatchInt("n", 8)}},
			func(d *doc) bool { return d.city == "Lima" || d.n == 8 }},
		{"must_not", &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatch("city", "Lima"), qdrant.NewMatchBool("flag", true)}},
			func(d *doc) bool { return d.city != "Lima" && !d.flag }},
		{"must+should+must_not", &qdrant.Filter{
			Must:    []*qdrant.Condition{qdrant.NewRange("n", rng(nil, f64(1), nil, nil))},
			Should:  []*qdrant.Condition{qdrant.NewMatch("tags", "green"), qdrant.NewMatch("city", "Paris")},
			MustNot: []*qdrant.Condition{qdrant.NewMatchInt("meta.inner.k", 0)}},
			func(d *doc) bool {
				return d.n >= 1 && (slices.Contains(d.tags, "green") || d.city == "Paris") && d.innerK != 0
			}},
		{"nested filter as condition", must(qdrant.NewFilterAsCondition(&qdrant.Filter{
			Should: []*qdrant.Condition{qdrant.NewMatchInt("n", 1), qdrant.NewMatchInt("n", 2)}}),
			qdrant.NewMatchBool("flag", true)),
			func(d *doc) bool { return (d.n == 1 || d.n == 2) && d.flag }},
		{"is_empty", must(qdrant.NewIsEmpty("maybe")),
			func(d *doc) bool { return !d.hasMay || d.maybe == nil || isEmptyList(d.maybe) }},
		{"is_null", must(qdrant.NewIsNull("maybe")), func(d *doc) bool { return d.hasMay && d.maybe == nil }},
		{"not is_empty", &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewIsEmpty("maybe")}},
			func(d *doc) bool { return d.hasMay && d.maybe == "x" }},
		{"is_empty on array", must(qdrant.NewIsEmpty("tags")), func(d *doc) bool { return len(d.tags) == 0 }},
		{"has_id", must(qdrant.NewHasID(qdrant.NewIDNum(3), qdrant.NewIDNum(50), qdrant.NewIDNum(77), qdrant.NewIDNum(100000))),
			func(d *doc) bool { return d.id == 3 || d.id == 50 || d.id == 77 }},
		{"nested key path", must(qdrant.NewMatchInt("meta.inner.k", 2)), func(d *doc) bool { return d.innerK == 2 }},
		{"array of objects path", must(qdrant.NewRange("items[].x", rng(nil, f64(8), nil, nil))),
			func(d *doc) bool { return slices.ContainsFunc(d.items, func(x float64) bool { return x >= 8 }) }},
		{"nested object filter", must(qdrant.NewNestedFilter("items", &qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewRange("x", rng(nil, f64(3), nil, f64(5)))}})),
			func(d *doc) bool {
				return slices.ContainsFunc(d.items, func(x float64) bool { return x >= 3 && x <= 5 })
			}},
		{"missing field", must(qdrant.NewMatch("no_such_field", "x")), func(d *doc) bool { return false }},
	}
}

func isEmptyList(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) == 0
}

func TestFilters(t *testing.T) {
	docs := genDocs(250, qDim, 21)
	name := simpleCollection(t, qDim, qdrant.Distance_Cosine)
	upsert(t, name, points(docs, false)...)
	checkFilters(t, name, docs)
}

// checkFilters runs every filter case through Count, Scroll and Query.
func checkFilters(t *testing.T, name string, docs []*doc) {
	q := queryVec(33)
	for _, fc := range filterCases() {
		t.Run(fc.name, func(t *testing.T) {
			var wantIDs []string
			for _, d := range docs {
				if fc.keep(d) {
					wantIDs = append(wantIDs, idString(qdrant.NewIDNum(d.id)))
				}
			}
			count, err := client.Count(ctx(t), &qdrant.CountPoints{CollectionName: name, Filter: fc.filter, Exact: qdrant.PtrOf(true)})
			require.NoError(t, err)
			require.Equal(t, uint64(len(wantIDs)), count, "count")

			got, err := client.Scroll(ctx(t), &qdrant.ScrollPoints{CollectionName: name, Filter: fc.filter,
				Limit: qdrant.PtrOf(uint32(len(docs) + 1)), WithPayload: qdrant.NewWithPayload(false)})
			require.NoError(t, err)
			gotIDs := retrievedIDs(got)
			if wantIDs == nil {
				wantIDs = []string{}
			}
			require.Equal(t, wantIDs, gotIDs, "scroll ids")

			res, err := client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryDense(q),
				Filter: fc.filter, Limit: qdrant.PtrOf(uint64(10))})
			require.NoError(t, err)
			want := bruteForce(docs, qdrant.Distance_Cosine, q, func(d *doc) []float32 { return d.vec }, fc.keep)
			checkRanking(t, "query", res, window(want, 0, 10))
		})
	}
}
