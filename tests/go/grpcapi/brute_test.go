// Brute-force reference for query tests: a random data set generated in Go
// (fixed seed), the same scoring Qdrant documents (Cosine on normalised
// vectors, Dot, Euclid = L2 distance, Manhattan = L1 distance), ordering by
// score (descending for Cosine/Dot, ascending for Euclid/Manhattan) with ties
// by point id, and filter predicates written as Go functions over the same
// payloads.  checkRanking compares a server answer with the reference while
// tolerating only float32-vs-float64 rounding (rel 1e-4).
package grpcapi

import (
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/qdrant/go-client/qdrant"
)

// doc is one generated point: vectors plus the payload as plain Go values.
type doc struct {
	id      uint64
	vec     []float32 // unnamed vector / named "a"
	vecB    []float32 // named "b" (dim 3)
	city    string
	n       int64
	flag    bool
	price   float64
	tags    []string
	maybe   any  // missing (absent), nil (null), []any{} or a string
	hasMay  bool // whether "maybe" is present at all
	innerK  int64
	items   []float64 // items[].x
	payload map[string]any
}

var cities = []string{"Berlin", "Paris", "Rome", "Oslo", "Lima"}
var tagPool = []string{"red", "green", "blue", "gold"}

// genDocs builds n points with ids 1..n (deterministic).
func genDocs(n, dim int, seed int64) []*doc {
	r := rand.New(rand.NewSource(seed))
	out := make([]*doc, n)
	for i := range out {
		d := &doc{id: uint64(i + 1)}
		d.vec = make([]float32, dim)
		for j := range d.vec {
			d.vec[j] = float32(r.NormFloat64())
		}
		d.vecB = []float32{float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64())}
		d.city = cities[r.Intn(len(cities))]
		d.n = int64(r.Intn(10))
		d.flag = r.Intn(2) == 0
		d.price = math.Round(r.Float64()*10000) / 100
		for _, tg := range tagPool {
			if r.Intn(3) == 0 {
				d.tags = append(d.tags, tg)
			}
		}
		switch r.Intn(4) {
		case 0: // absent
		case 1:
			d.hasMay, d.maybe = true, nil
		case 2:
			d.hasMay, d.maybe = true, []any{}
		case 3:
			d.hasMay, d.maybe = true, "x"
		}
		d.innerK = int64(r.Intn(5))
		for k := r.Intn(3); k > 0; k-- {
			d.items = append(d.items, float64(r.Intn(10)))
		}
		tags := make([]any, len(d.tags))
		for k, tg := range d.tags {
			tags[k] = tg
		}
		items := make([]any, len(d.items))
		for k, x := range d.items {
			items[k] = map[string]any{"x": x}
		}
		d.payload = map[string]any{
			"city":  d.city,
			"n":     d.n,
			"flag":  d.flag,
			"price": d.price,
			"tags":  tags,
			"meta":  map[string]any{"inner": map[string]any{"k": d.innerK}},
			"items": items,
		}
		if d.hasMay {
			d.payload["maybe"] = d.maybe
		}
		out[i] = d
	}
	return out
}

// points converts docs to PointStructs; named selects {"a","b"} vectors.
func points(docs []*doc, named bool) []*qdrant.PointStruct {
	out := make([]*qdrant.PointStruct, len(docs))
	for i, d := range docs {
		var v *qdrant.Vectors
		if named {
			v = qdrant.NewVectorsMap(map[string]*qdrant.Vector{
				"a": qdrant.NewVectorDense(d.vec),
				"b": qdrant.NewVectorDense(d.vecB),
			})
		} else {
			v = qdrant.NewVectorsDense(d.vec)
		}
		out[i] = &qdrant.PointStruct{Id: qdrant.NewIDNum(d.id), Vectors: v, Payload: qdrant.NewValueMap(d.payload)}
	}
	return out
}

func normalize(v []float32) []float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	s = math.Sqrt(s)
	out := make([]float64, len(v))
	for i, x := range v {
		if s == 0 {
			out[i] = float64(x)
		} else {
			out[i] = float64(x) / s
		}
	}
	return out
}

// score computes the reference score of stored vector v for query q.
func score(dist qdrant.Distance, q, v []float32) float64 {
	switch dist {
	case qdrant.Distance_Cosine:
		a, b := normalize(q), normalize(v)
		var s float64
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	case qdrant.Distance_Dot:
		var s float64
		for i := range q {
			s += float64(q[i]) * float64(v[i])
		}
		return s
	case qdrant.Distance_Euclid:
		var s float64
		for i := range q {
			d := float64(q[i]) - float64(v[i])
			s += d * d
		}
		return math.Sqrt(s)
	case qdrant.Distance_Manhattan:
		var s float64
		for i := range q {
			s += math.Abs(float64(q[i]) - float64(v[i]))
		}
		return s
	}
	panic("unknown distance")
}

type ref struct {
	id    uint64
	score float64
}

// bruteForce ranks the docs accepted by keep for query q (vector picked by
// vecOf) and returns the whole ranking.
func bruteForce(docs []*doc, dist qdrant.Distance, q []float32, vecOf func(*doc) []float32, keep func(*doc) bool) []ref {
	var out []ref
	for _, d := range docs {
		if keep != nil && !keep(d) {
			continue
		}
		out = append(out, ref{d.id, score(dist, q, vecOf(d))})
	}
	asc := dist == qdrant.Distance_Euclid || dist == qdrant.Distance_Manhattan
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			if asc {
				return out[i].score < out[j].score
			}
			return out[i].score > out[j].score
		}
		return out[i].id < out[j].id
	})
	return out
}

func closeEnough(a, b float64) bool {
	d := math.Abs(a - b)
	return d <= 1e-4*math.Max(math.Abs(a), math.Abs(b)) || d <= 1e-5
}

// checkRanking asserts that got is want[offset:offset+limit]: same length,
// scores equal within rel 1e-4, and the same ids in the same order except
// where neighbouring reference scores are themselves within that tolerance
// (float32 vs float64 rounding may swap those).
func checkRanking(t *testing.T, what string, got []*qdrant.ScoredPoint, want []ref) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d (got ids %v)", what, len(got), len(want), scoredIDs(got))
	}
	byID := map[uint64]float64{}
	for _, r := range want {
		byID[r.id] = r.score
	}
	seen := map[uint64]bool{}
	for i, p := range got {
		id := p.GetId().GetNum()
		if seen[id] {
			t.Fatalf("%s: id %d returned twice (ids %v)", what, id, scoredIDs(got))
		}
		seen[id] = true
		if !closeEnough(float64(p.GetScore()), want[i].score) {
			t.Fatalf("%s: result %d score %v (id %d), want %v (id %d)", what, i, p.GetScore(), id, want[i].score, want[i].id)
		}
		if id == want[i].id {
			continue
		}
		s, ok := byID[id]
		if !ok || !closeEnough(s, want[i].score) {
			t.Fatalf("%s: result %d is id %d, want id %d (ids %v)", what, i, id, want[i].id, scoredIDs(got))
		}
	}
}

func window(r []ref, offset, limit int) []ref {
	if offset > len(r) {
		return nil
	}
	end := offset + limit
	if end > len(r) {
		end = len(r)
	}
	return r[offset:end]
}
