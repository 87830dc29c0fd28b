// Error status codes through the Go client, as Qdrant returns them over
// gRPC: NotFound for a missing collection (every RPC kind) or a missing
// point where one is required, InvalidArgument for bad input (wrong
// dimension, unknown vector name, malformed UUID, invalid names), and no
// partial writes: a rejected batch leaves the collection unchanged. User
// errors are never Internal or Unknown (the Rust client retries those).
package grpcapi

import (
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

func TestMissingCollectionIsNotFound(t *testing.T) {
	m := collName(t, "missing")
	sel := qdrant.NewPointsSelector(qdrant.NewIDNum(1))
	calls := map[string]func() error{
		"Upsert": func() error {
			_, err := client.Upsert(ctx(t), &qdrant.UpsertPoints{CollectionName: m, Wait: &waitTrue,
				Points: []*qdrant.PointStruct{{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 2)}}})
			return err
		},
		"Get": func() error {
			_, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: m, Ids: []*qdrant.PointId{qdrant.NewIDNum(1)}})
			return err
		},
		"Query": func() error {
			_, err := client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: m, Query: qdrant.NewQuery(1, 2)})
			return err
		},
		"Scroll": func() error {
			_, err := client.Scroll(ctx(t), &qdrant.ScrollPoints{CollectionName: m})
			return err
		},
		"Count": func() error {
			_, err := client.Count(ctx(t), &qdrant.CountPoints{CollectionName: m})
			return err
		},
		"Delete": func() error {
			_, err := client.Delete(ctx(t), &qdrant.DeletePoints{CollectionName: m, Points: sel, Wait: &waitTrue})
			return err
		},
		"SetPayload": func() error {
			_, err := client.SetPayload(ctx(t), &qdrant.SetPayloadPoints{CollectionName: m, PointsSelector: sel,
				Payload: vm(map[string]any{"a": 1}), Wait: &waitTrue})
			return err
		},
		"UpdateVectors": func() error {
			_, err := client.UpdateVectors(ctx(t), &qdrant.UpdatePointVectors{CollectionName: m, Wait: &waitTrue,
				Points: []*qdrant.PointVectors{{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 2)}}})
			return err
		},
		"GetCollectionInfo": func() error {
			_, err := client.GetCollectionInfo(ctx(t), m)
			return err
		},
		"ListCollectionAliases": func() error {
			_, err := client.ListCollectionAliases(ctx(t), m)
			return err
		},
	}
	for name, call := range calls {
		wantCode(t, call(), codes.NotFound, name)
	}
}

func TestBadInputIsInvalidArgument(t *testing.T) {
	name := simpleCollection(t, 4, qdrant.Distance_Cosine)
	upsert(t, name, &qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 2, 3, 4),
		Payload: vm(map[string]any{"k": "v"})})
	countIs := func(n uint64) {
		t.Helper()
		c, err := client.Count(ctx(t), &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true)})
		require.NoError(t, err)
		require.Equal(t, n, c)
	}

	// Wrong dimension in one point of a batch: nothing is written.
	_, err := client.Upsert(ctx(t), &qdrant.UpsertPoints{CollectionName: name, Wait: &waitTrue,
		Points: []*qdrant.PointStruct{
			{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectors(1, 2, 3, 4)},
			{Id: qdrant.NewIDNum(3), Vectors: qdrant.NewVectors(1, 2, 3)},
		}})
	wantCode(t, err, codes.InvalidArgument, "upsert with a wrong dimension")
	require.Contains(t, err.Error(), "expected dim: 4, got 3")
	countIs(1)
	// ... also without wait.
	_, err = client.Upsert(ctx(t), &qdrant.UpsertPoints{CollectionName: name,
		Points: []*qdrant.PointStruct{{Id: qdrant.NewIDNum(3), Vectors: qdrant.NewVectors(1, 2, 3, 4, 5)}}})
	wantCode(t, err, codes.InvalidArgument, "upsert with a wrong dimension, no wait")
	countIs(1)

	_, err = client.UpdateVectors(ctx(t), &qdrant.UpdatePointVectors{CollectionName: name, Wait: &waitTrue,
		Points: []*qdrant.PointVectors{{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 2)}}})
	wantCode(t, err, codes.InvalidArgument, "update vectors with a wrong dimension")

	_, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuery(1, 2)})
	wantCode(t, err, codes.InvalidArgument, "query with a wrong dimension")

	_, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuery(1, 2, 3, 4),
		Using: qdrant.PtrOf("nope")})
	wantCode(t, err, codes.InvalidArgument, "query using an unknown vector name")

	_, err = client.Upsert(ctx(t), &qdrant.UpsertPoints{CollectionName: name, Wait: &waitTrue,
		Points: []*qdrant.PointStruct{{Id: qdrant.NewIDNum(4), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{
			"nope": qdrant.NewVector(1, 2, 3, 4)})}}})
	wantCode(t, err, codes.InvalidArgument, "upsert an unknown vector name")
	countIs(1)

	for _, bad := range []string{"not-a-uuid", "5c56c793-69f3-4fbf-87e6-c4bf54c28c2", "123", ""} {
		_, err = client.Upsert(ctx(t), &qdrant.UpsertPoints{CollectionName: name, Wait: &waitTrue,
			Points: []*qdrant.PointStruct{
				{Id: qdrant.NewIDNum(5), Vectors: qdrant.NewVectors(1, 2, 3, 4)},
				{Id: qdrant.NewID(bad), Vectors: qdrant.NewVectors(1, 2, 3, 4)},
			}})
		wantCode(t, err, codes.InvalidArgument, "upsert with uuid "+bad)
		countIs(1)
		_, err = client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewID(bad)}})
		wantCode(t, err, codes.InvalidArgument, "get with uuid "+bad)
	}

	// Missing points where Qdrant requires them: NotFound, nothing changed.
	_, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryID(qdrant.NewIDNum(777))})
	wantCode(t, err, codes.NotFound, "query by a missing point id")
	_, err = client.UpdateVectors(ctx(t), &qdrant.UpdatePointVectors{CollectionName: name, Wait: &waitTrue,
		Points: []*qdrant.PointVectors{{Id: qdrant.NewIDNum(777), Vectors: qdrant.NewVectors(1, 2, 3, 4)}}})
	wantCode(t, err, codes.NotFound, "update vectors of a missing point")
	_, err = client.SetPayload(ctx(t), &qdrant.SetPayloadPoints{CollectionName: name, Wait: &waitTrue,
		PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(1), qdrant.NewIDNum(777)),
		Payload:        vm(map[string]any{"b": 2})})
	wantCode(t, err, codes.NotFound, "set payload on a missing point")
	countIs(1)

	// The point is intact after all of that.
	r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(1)},
		WithPayload: qdrant.NewWithPayload(true), WithVectors: qdrant.NewWithVectors(true)})
	require.NoError(t, err)
	require.Len(t, r, 1)
	requirePayload(t, vm(map[string]any{"k": "v"}), r[0].GetPayload())
	want := normalize([]float32{1, 2, 3, 4})
	got := denseOf(r[0].GetVectors().GetVector())
	for i := range want {
		require.InDelta(t, want[i], float64(got[i]), 1e-6)
	}
}
