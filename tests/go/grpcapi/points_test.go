// Points through the Go client: upsert with every ID kind (u64 up to 2^64-1,
// UUIDs in each accepted form, returned lowercase hyphenated), exact float
// and payload read-back, named vectors, vector update/delete, point delete
// by ids and by filter, scroll pagination and count.
package grpcapi

import (
	"math"
	"sort"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func TestUpsertEveryIDKind(t *testing.T) {
	name := simpleCollection(t, 2, qdrant.Distance_Dot)
	nums := []uint64{0, 1, 1<<53 + 1, 1<<63 + 12345, math.MaxUint64}
	uuids := []struct{ in, want string }{
		{"550E8400-E29B-41D4-A716-446655440000", "550e8400-e29b-41d4-a716-446655440000"},
		{"6ba7b8109dad11d180b400c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{"{f47ac10b-58cc-4372-a567-0e02b2c3d479}", "f47ac10b-58cc-4372-a567-0e02b2c3d479"},
		{"urn:uuid:123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"},
		{"ed7ac159-d8a7-41fb-9da3-66a14916330f", "ed7ac159-d8a7-41fb-9da3-66a14916330f"},
	}
	var pts []*qdrant.PointStruct
	for i, n := range nums {
		pts = append(pts, &qdrant.PointStruct{Id: qdrant.NewIDNum(n), Vectors: qdrant.NewVectors(float32(i), 1),
			Payload: qdrant.NewValueMap(map[string]any{"i": i})})
	}
	for i, u := range uuids {
		pts = append(pts, &qdrant.PointStruct{Id: qdrant.NewID(u.in), Vectors: qdrant.NewVectors(float32(i), 2),
			Payload: qdrant.NewValueMap(map[string]any{"i": i})})
	}
	upsert(t, name, pts...)

	count, err := client.Count(ctx(t), &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true)})
	require.NoError(t, err)
	require.Equal(t, uint64(len(nums)+len(uuids)), count)

	// Scroll order: numeric ids ascending, then UUIDs (as Qdrant orders them).
	got, err := client.Scroll(ctx(t), &qdrant.ScrollPoints{CollectionName: name, Limit: qdrant.PtrOf(uint32(100))})
	require.NoError(t, err)
	var wantOrder []string
	for _, n := range nums {
		wantOrder = append(wantOrder, idString(qdrant.NewIDNum(n)))
	}
	var us []string
	for _, u := range uuids {
		us = append(us, u.want)
	}
	sort.Strings(us)
	wantOrder = append(wantOrder, us...)
	require.Equal(t, wantOrder, retrievedIDs(got))

	// Each id is retrievable by any of its forms and comes back normalised.
	for i, u := range uuids {
		for _, form := range []string{u.in, u.want} {
			r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewID(form)},
				WithPayload: qdrant.NewWithPayload(true)})
			require.NoError(t, err)
			require.Len(t, r, 1, "get %s", form)
			require.Equal(t, u.want, r[0].GetId().GetUuid())
			require.Equal(t, int64(i), r[0].GetPayload()["i"].GetIntegerValue())
		}
	}
	for i, n := range nums {
		r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(n)},
			WithPayload: qdrant.NewWithPayload(true)})
		require.NoError(t, err)
		require.Len(t, r, 1)
		require.Equal(t, n, r[0].GetId().GetNum())
		require.Equal(t, int64(i), r[0].GetPayload()["i"].GetIntegerValue())
	}

	// The same UUID in another form is the same point: upsert overwrites.
	upsert(t, name, &qdrant.PointStruct{Id: qdrant.NewID("550e8400e29b41d4a716446655440000"),
		Vectors: qdrant.NewVectors(9, 9), Payload: qdrant.NewValueMap(map[string]any{"i": 99})})
	count, err = client.Count(ctx(t), &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true)})
	require.NoError(t, err)
	require.Equal(t, uint64(len(nums)+len(uuids)), count)
	r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name,
		Ids: []*qdrant.PointId{qdrant.NewID(uuids[0].want)}, WithVectors: qdrant.NewWithVectors(true),
		WithPayload: qdrant.NewWithPayload(true)})
	require.NoError(t, err)
	require.Len(t, r, 1)
	require.Equal(t, int64(99), r[0].GetPayload()["i"].GetIntegerValue())
	require.Equal(t, []float32{9, 9}, denseOf(r[0].GetVectors().GetVector()))

	// A missing id is simply absent from Get.
	r, err = client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(424242)}})
	require.NoError(t, err)
	require.Empty(t, r)
}

func TestExactFloatReadBack(t *testing.T) {
	vals := []float32{0.1, 0.19, -3.4028235e38, 1.1754944e-38, 1e-45, 123456.79, -0.0, 3.14159274}
	dot := simpleCollection(t, uint64(len(vals)), qdrant.Distance_Dot)
	upsert(t, dot, &qdrant.PointStruct{Id: qdrant.NewIDNum(7), Vectors: qdrant.NewVectorsDense(vals)})
	r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: dot, Ids: []*qdrant.PointId{qdrant.NewIDNum(7)},
		WithVectors: qdrant.NewWithVectors(true), WithPayload: qdrant.NewWithPayload(false)})
	require.NoError(t, err)
	require.Len(t, r, 1)
	got := denseOf(r[0].GetVectors().GetVector())
	require.Len(t, got, len(vals))
	for i := range vals {
		require.Equal(t, math.Float32bits(vals[i]), math.Float32bits(got[i]), "component %d: %v vs %v", i, got[i], vals[i])
	}

	// Cosine vectors are stored normalised.
	cos := collName(t, "cos")
	newCollection(t, &qdrant.CreateCollection{CollectionName: cos,
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 3, Distance: qdrant.Distance_Cosine})})
	in := []float32{3, 4, 12}
	upsert(t, cos, &qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectorsDense(in)})
	r, err = client.Get(ctx(t), &qdrant.GetPoints{CollectionName: cos, Ids: []*qdrant.PointId{qdrant.NewIDNum(1)},
		WithVectors: qdrant.NewWithVectors(true)})
	require.NoError(t, err)
	got = denseOf(r[0].GetVectors().GetVector())
	want := normalize(in)
	require.Len(t, got, 3)
	for i := range want {
		require.InDelta(t, want[i], float64(got[i]), 1e-6)
	}
}

func TestExactPayloadReadBack(t *testing.T) {
	name := simpleCollection(t, 2, qdrant.Distance_Dot)
	payload := map[string]*qdrant.Value{
		"str":     qdrant.NewValueString("héllo ✓ \"quoted\" \\ \n tab\t"),
		"empty":   qdrant.NewValueString(""),
		"int_min": qdrant.NewValueInt(math.MinInt64),
		"int_max": qdrant.NewValueInt(math.MaxInt64),
		"zero":    qdrant.NewValueInt(0),
		"f1":      qdrant.NewValueDouble(0.1),
		"f2":      qdrant.NewValueDouble(-3.3817118747907386),
		"f3":      qdrant.NewValueDouble(1e300),
		"f4":      qdrant.NewValueDouble(5e-324),
		"f5":      qdrant.NewValueDouble(2.5),
		"t":       qdrant.NewValueBool(true),
		"f":       qdrant.NewValueBool(false),
		"nul":     qdrant.NewValueNull(),
		"list": qdrant.NewValueFromList(qdrant.NewValueInt(1), qdrant.NewValueString("two"),
			qdrant.NewValueDouble(3.5), qdrant.NewValueNull(), qdrant.NewValueFromList()),
		"nested": qdrant.NewValueFromFields(map[string]*qdrant.Value{
			"a": qdrant.NewValueFromFields(map[string]*qdrant.Value{"b": qdrant.NewValueInt(-5)}),
			"c": qdrant.NewValueFromList(qdrant.NewValueFromFields(map[string]*qdrant.Value{"d": qdrant.NewValueBool(true)})),
		}),
		"emptyobj": qdrant.NewValueFromFields(map[string]*qdrant.Value{}),
	}
	upsert(t, name, &qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 2), Payload: payload})
	r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(1)},
		WithPayload: qdrant.NewWithPayload(true)})
	require.NoError(t, err)
	require.Len(t, r, 1)
	requirePayload(t, payload, r[0].GetPayload())

	// include / exclude selectors, with a nested path.
	r, err = client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(1)},
		WithPayload: qdrant.NewWithPayloadInclude("str", "nested.a")})
	require.NoError(t, err)
	requirePayload(t, map[string]*qdrant.Value{
		"str": payload["str"],
		"nested": qdrant.NewValueFromFields(map[string]*qdrant.Value{
			"a": qdrant.NewValueFromFields(map[string]*qdrant.Value{"b": qdrant.NewValueInt(-5)}),
		}),
	}, r[0].GetPayload())
	r, err = client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(1)},
		WithPayload: qdrant.NewWithPayloadExclude("list", "nested", "str")})
	require.NoError(t, err)
	want := map[string]*qdrant.Value{}
	for k, v := range payload {
		if k != "list" && k != "nested" && k != "str" {
			want[k] = v
		}
	}
	requirePayload(t, want, r[0].GetPayload())
}

// requirePayload compares payload maps with proto equality, key by key.
func requirePayload(t *testing.T, want, got map[string]*qdrant.Value) {
	t.Helper()
	var wk, gk []string
	for k := range want {
		wk = append(wk, k)
	}
	for k := range got {
		gk = append(gk, k)
	}
	sort.Strings(wk)
	sort.Strings(gk)
	require.Equal(t, wk, gk, "payload keys")
	for k, v := range want {
		if !proto.Equal(v, got[k]) {
			t.Fatalf("payload %q: got %v, want %v", k, got[k], v)
		}
	}
}

func TestNamedVectorsUpdateDelete(t *testing.T) {
	name := newCollection(t, &qdrant.CreateCollection{
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			"a": {Size: 3, Distance: qdrant.Distance_Dot},
			"b": {Size: 2, Distance: qdrant.Distance_Euclid},
		}),
	})
	upsert(t, name,
		&qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{
			"a": qdrant.NewVector(1, 2, 3), "b": qdrant.NewVector(4, 5)})},
		&qdrant.PointStruct{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{
			"a": qdrant.NewVector(0.5, 0.25, 0.125)})},
	)
	get := func(id uint64, sel *qdrant.WithVectorsSelector) map[string]*qdrant.VectorOutput {
		t.Helper()
		r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(id)},
			WithVectors: sel})
		require.NoError(t, err)
		require.Len(t, r, 1)
		return r[0].GetVectors().GetVectors().GetVectors()
	}
	v := get(1, qdrant.NewWithVectors(true))
	require.Len(t, v, 2)
	require.Equal(t, []float32{1, 2, 3}, denseOf(v["a"]))
	require.Equal(t, []float32{4, 5}, denseOf(v["b"]))
	v = get(2, qdrant.NewWithVectors(true))
	require.Len(t, v, 1, "missing named vectors are omitted")
	v = get(1, qdrant.NewWithVectorsInclude("b"))
	require.Len(t, v, 1)
	require.Equal(t, []float32{4, 5}, denseOf(v["b"]))

	// UpdateVectors replaces only the named vectors given.
	_, err := client.UpdateVectors(ctx(t), &qdrant.UpdatePointVectors{CollectionName: name, Wait: &waitTrue,
		Points: []*qdrant.PointVectors{
			{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"a": qdrant.NewVector(7, 8, 9)})},
			{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"b": qdrant.NewVector(-1, -2)})},
		}})
	require.NoError(t, err)
	v = get(1, qdrant.NewWithVectors(true))
	require.Equal(t, []float32{7, 8, 9}, denseOf(v["a"]))
	require.Equal(t, []float32{4, 5}, denseOf(v["b"]))
	v = get(2, qdrant.NewWithVectors(true))
	require.Equal(t, []float32{0.5, 0.25, 0.125}, denseOf(v["a"]))
	require.Equal(t, []float32{-1, -2}, denseOf(v["b"]))

	// DeleteVectors removes one named vector from the selected points.
	_, err = client.DeleteVectors(ctx(t), &qdrant.DeletePointVectors{CollectionName: name, Wait: &waitTrue,
		PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(1), qdrant.NewIDNum(2)),
		Vectors:        &qdrant.VectorsSelector{Names: []string{"a"}}})
	require.NoError(t, err)
	for _, id := range []uint64{1, 2} {
		v = get(id, qdrant.NewWithVectors(true))
		require.NotContains(t, v, "a")
		require.Contains(t, v, "b")
	}
	// Query using "a" finds neither point now; "b" finds both.
	res, err := client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuery(1, 1, 1),
		Using: qdrant.PtrOf("a")})
	require.NoError(t, err)
	require.Empty(t, res)
	res, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuery(4, 5),
		Using: qdrant.PtrOf("b")})
	require.NoError(t, err)
	require.Equal(t, []string{"1", "2"}, scoredIDs(res))
	require.InDelta(t, 0, res[0].GetScore(), 1e-6)
}

func TestUnnamedVectorUpdateAndDeletePoints(t *testing.T) {
	name := simpleCollection(t, 3, qdrant.Distance_Dot)
	docs := genDocs(30, 3, 5)
	upsert(t, name, points(docs, false)...)

	_, err := client.UpdateVectors(ctx(t), &qdrant.UpdatePointVectors{CollectionName: name, Wait: &waitTrue,
		Points: []*qdrant.PointVectors{{Id: qdrant.NewIDNum(3), Vectors: qdrant.NewVectors(100, 0, 0)}}})
	require.NoError(t, err)
	res, err := client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuery(1, 0, 0),
		Limit: qdrant.PtrOf(uint64(1)), WithVectors: qdrant.NewWithVectors(true)})
	require.NoError(t, err)
	require.Equal(t, []string{"3"}, scoredIDs(res))
	require.Equal(t, []float32{100, 0, 0}, denseOf(res[0].GetVectors().GetVector()))

	// Delete by ids.
	_, err = client.Delete(ctx(t), &qdrant.DeletePoints{CollectionName: name, Wait: &waitTrue,
		Points: qdrant.NewPointsSelector(qdrant.NewIDNum(1), qdrant.NewIDNum(2), qdrant.NewIDNum(999))})
	require.NoError(t, err)
	// Delete by filter.
	_, err = client.Delete(ctx(t), &qdrant.DeletePoints{CollectionName: name, Wait: &waitTrue,
		Points: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("city", "Paris")}})})
	require.NoError(t, err)
	var want []string
	for _, d := range docs {
		if d.id != 1 && d.id != 2 && d.city != "Paris" {
			want = append(want, idString(qdrant.NewIDNum(d.id)))
		}
	}
	got, err := client.Scroll(ctx(t), &qdrant.ScrollPoints{CollectionName: name, Limit: qdrant.PtrOf(uint32(100))})
	require.NoError(t, err)
	require.Equal(t, want, retrievedIDs(got))
}

func TestScrollPaginationAndCount(t *testing.T) {
	name := simpleCollection(t, 4, qdrant.Distance_Cosine)
	docs := genDocs(157, 4, 11)
	// Upsert in shuffled batches; scroll must still be in id order.
	pts := points(docs, false)
	for i := len(pts) - 1; i > 0; i -= 40 {
		lo := i - 39
		if lo < 0 {
			lo = 0
		}
		upsert(t, name, pts[lo:i+1]...)
	}
	count, err := client.Count(ctx(t), &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true)})
	require.NoError(t, err)
	require.Equal(t, uint64(len(docs)), count)

	scrollAll := func(filter *qdrant.Filter, pageSize uint32) []uint64 {
		t.Helper()
		var out []uint64
		var offset *qdrant.PointId
		for pages := 0; ; pages++ {
			require.Less(t, pages, 1000, "scroll does not terminate")
			page, next, err := client.ScrollAndOffset(ctx(t), &qdrant.ScrollPoints{CollectionName: name,
				Filter: filter, Offset: offset, Limit: qdrant.PtrOf(pageSize)})
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), int(pageSize))
			for _, p := range page {
				out = append(out, p.GetId().GetNum())
			}
			if next == nil {
				return out
			}
			require.Len(t, page, int(pageSize), "a page before the last is full")
			require.Greater(t, next.GetNum(), out[len(out)-1], "next offset follows the page")
			offset = next
		}
	}
	var all []uint64
	for _, d := range docs {
		all = append(all, d.id)
	}
	require.Equal(t, all, scrollAll(nil, 37))
	require.Equal(t, all, scrollAll(nil, 157))

	f := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchBool("flag", true)}}
	var flagged []uint64
	for _, d := range docs {
		if d.flag {
			flagged = append(flagged, d.id)
		}
	}
	require.Equal(t, flagged, scrollAll(f, 10))
	count, err = client.Count(ctx(t), &qdrant.CountPoints{CollectionName: name, Filter: f, Exact: qdrant.PtrOf(true)})
	require.NoError(t, err)
	require.Equal(t, uint64(len(flagged)), count)

	// Offset is an inclusive point id: starting at 50 returns 50.. .
	page, next, err := client.ScrollAndOffset(ctx(t), &qdrant.ScrollPoints{CollectionName: name,
		Offset: qdrant.NewIDNum(50), Limit: qdrant.PtrOf(uint32(5))})
	require.NoError(t, err)
	require.Equal(t, []string{"50", "51", "52", "53", "54"}, retrievedIDs(page))
	require.Equal(t, uint64(55), next.GetNum())
}
