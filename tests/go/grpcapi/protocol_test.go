// Protocol-level behaviour seen through the Go client: a client that
// gzip-compresses every request, the deprecated `Vector.data` encoding next
// to `Vector.dense`, the standard grpc.health.v1 service, and scroll
// pagination across the numeric-to-UUID id boundary.
package grpcapi

import (
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestGzipClient(t *testing.T) {
	gz, err := qdrant.NewClient(&qdrant.Config{
		Host: srv.Host, Port: srv.GRPCPort, SkipCompatibilityCheck: true,
		GrpcOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name))},
	})
	require.NoError(t, err)
	defer gz.Close()
	name := collName(t, "")
	require.NoError(t, gz.CreateCollection(ctx(t), &qdrant.CreateCollection{CollectionName: name,
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: qDim, Distance: qdrant.Distance_Euclid})}))
	t.Cleanup(func() { _ = client.DeleteCollection(ctx(t), name) })
	docs := genDocs(200, qDim, 77)
	_, err = gz.Upsert(ctx(t), &qdrant.UpsertPoints{CollectionName: name, Points: points(docs, false), Wait: &waitTrue})
	require.NoError(t, err)
	q := queryVec(78)
	res, err := gz.Query(ctx(t), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryDense(q),
		Limit: qdrant.PtrOf(uint64(10)), WithPayload: qdrant.NewWithPayload(true)})
	require.NoError(t, err)
	checkRanking(t, "gzip query", res, window(bruteForce(docs, qdrant.Distance_Euclid, q,
		func(d *doc) []float32 { return d.vec }, nil), 0, 10))
	require.NotEmpty(t, res[0].GetPayload())
}

func TestDeprecatedVectorEncoding(t *testing.T) {
	name := simpleCollection(t, 3, qdrant.Distance_Dot)
	// Vector.data (deprecated) and Vector.dense in the same request.
	old := &qdrant.Vector{Data: []float32{1.5, -2, 0.25}} //nolint:staticcheck // deprecated field on purpose
	upsert(t, name,
		&qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: &qdrant.Vectors{VectorsOptions: &qdrant.Vectors_Vector{Vector: old}}},
		&qdrant.PointStruct{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectors(3, 2, 1)},
	)
	r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name,
		Ids:         []*qdrant.PointId{qdrant.NewIDNum(1), qdrant.NewIDNum(2)},
		WithVectors: qdrant.NewWithVectors(true)})
	require.NoError(t, err)
	require.Len(t, r, 2)
	require.Equal(t, []float32{1.5, -2, 0.25}, denseOf(r[0].GetVectors().GetVector()))
	require.Equal(t, []float32{3, 2, 1}, denseOf(r[1].GetVectors().GetVector()))
}

func TestStandardHealthService(t *testing.T) {
	h := healthpb.NewHealthClient(client.GetConnection())
	r, err := h.Check(ctx(t), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, r.GetStatus())
}

func TestScrollAcrossIDKinds(t *testing.T) {
	name := simpleCollection(t, 2, qdrant.Distance_Dot)
	want := []string{"5", "9", "18446744073709551615",
		"00000000-0000-0000-0000-000000000001", "0b6b4e2a-0000-4000-8000-000000000000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff"}
	var pts []*qdrant.PointStruct
	for _, id := range []*qdrant.PointId{qdrant.NewID("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"), qdrant.NewIDNum(9),
		qdrant.NewID("0b6b4e2a-0000-4000-8000-000000000000"), qdrant.NewIDNum(18446744073709551615),
		qdrant.NewID("00000000000000000000000000000001"), qdrant.NewIDNum(5)} {
		pts = append(pts, &qdrant.PointStruct{Id: id, Vectors: qdrant.NewVectors(1, 1)})
	}
	upsert(t, name, pts...)
	for _, pageSize := range []uint32{1, 2, 4} {
		var got []string
		var offset *qdrant.PointId
		for i := 0; i < 20; i++ {
			page, next, err := client.ScrollAndOffset(ctx(t), &qdrant.ScrollPoints{CollectionName: name,
				Offset: offset, Limit: qdrant.PtrOf(pageSize)})
			require.NoError(t, err)
			got = append(got, retrievedIDs(page)...)
			if next == nil {
				break
			}
			offset = next
		}
		require.Equal(t, want, got, "page size %d", pageSize)
	}
}
