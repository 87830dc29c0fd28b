// Collections through the Go client: create with various parameters, get
// info (configuration echoed back), list, exists, update, delete, and the
// error codes Qdrant returns (NotFound, AlreadyExists, InvalidArgument;
// deleting a missing collection answers result=false, not an error).
package grpcapi

import (
	"strings"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

func TestHealthCheck(t *testing.T) {
	r, err := client.HealthCheck(ctx(t))
	require.NoError(t, err)
	require.Equal(t, "qdrant - vector search engine", r.GetTitle())
	require.Equal(t, "1.19.0", r.GetVersion())
	require.Len(t, r.GetCommit(), 40)
}

func TestCollectionUnnamedVector(t *testing.T) {
	name := newCollection(t, &qdrant.CreateCollection{
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_Dot}),
		OnDiskPayload: qdrant.PtrOf(true),
	})
	info, err := client.GetCollectionInfo(ctx(t), name)
	require.NoError(t, err)
	require.Equal(t, qdrant.CollectionStatus_Green, info.GetStatus())
	require.Equal(t, uint64(0), info.GetPointsCount())
	p := info.GetConfig().GetParams()
	require.Equal(t, uint64(4), p.GetVectorsConfig().GetParams().GetSize())
	require.Equal(t, qdrant.Distance_Dot, p.GetVectorsConfig().GetParams().GetDistance())
	require.True(t, p.GetOnDiskPayload())
	require.Equal(t, uint32(1), p.GetShardNumber())
	require.Empty(t, info.GetPayloadSchema())

	exists, err := client.CollectionExists(ctx(t), name)
	require.NoError(t, err)
	require.True(t, exists)

	names, err := client.ListCollections(ctx(t))
	require.NoError(t, err)
	require.Contains(t, names, name)
}

func TestCollectionNamedVectors(t *testing.T) {
	name := newCollection(t, &qdrant.CreateCollection{
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			"text":  {Size: 3, Distance: qdrant.Distance_Cosine},
			"image": {Size: 2, Distance: qdrant.Distance_Euclid},
			"l1":    {Size: 5, Distance: qdrant.Distance_Manhattan, OnDisk: qdrant.PtrOf(true)},
		}),
	})
	info, err := client.GetCollectionInfo(ctx(t), name)
	require.NoError(t, err)
	m := info.GetConfig().GetParams().GetVectorsConfig().GetParamsMap().GetMap()
	require.Len(t, m, 3)
	require.Equal(t, uint64(3), m["text"].GetSize())
	require.Equal(t, qdrant.Distance_Cosine, m["text"].GetDistance())
	require.Equal(t, uint64(2), m["image"].GetSize())
	require.Equal(t, qdrant.Distance_Euclid, m["image"].GetDistance())
	require.Equal(t, uint64(5), m["l1"].GetSize())
	require.Equal(t, qdrant.Distance_Manhattan, m["l1"].GetDistance())
	require.True(t, m["l1"].GetOnDisk())
}

func TestCollectionUpdateAndDelete(t *testing.T) {
	name := simpleCollection(t, 4, qdrant.Distance_Cosine)
	threshold := uint64(1234)
	err := client.UpdateCollection(ctx(t), &qdrant.UpdateCollection{
		CollectionName:   name,
		OptimizersConfig: &qdrant.OptimizersConfigDiff{IndexingThreshold: &threshold},
	})
	require.NoError(t, err)
	info, err := client.GetCollectionInfo(ctx(t), name)
	require.NoError(t, err)
	require.Equal(t, threshold, info.GetConfig().GetOptimizerConfig().GetIndexingThreshold())

	// Delete: the raw RPC answers result=true, then the name is gone.
	res, err := client.GetCollectionsClient().Delete(ctx(t), &qdrant.DeleteCollection{CollectionName: name})
	require.NoError(t, err)
	require.True(t, res.GetResult())
	exists, err := client.CollectionExists(ctx(t), name)
	require.NoError(t, err)
	require.False(t, exists)
	names, err := client.ListCollections(ctx(t))
	require.NoError(t, err)
	require.NotContains(t, names, name)
	_, err = client.GetCollectionInfo(ctx(t), name)
	wantCode(t, err, codes.NotFound, "GetCollectionInfo after delete")

	// Deleting it again is not an error in Qdrant: result=false.
	res, err = client.GetCollectionsClient().Delete(ctx(t), &qdrant.DeleteCollection{CollectionName: name})
	require.NoError(t, err)
	require.False(t, res.GetResult())
	// ... which the client's helper turns into an error.
	require.Error(t, client.DeleteCollection(ctx(t), name))
}

func TestCollectionErrors(t *testing.T) {
	name := simpleCollection(t, 4, qdrant.Distance_Cosine)

	err := client.CreateCollection(ctx(t), &qdrant.CreateCollection{
		CollectionName: name,
		VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_Cosine}),
	})
	wantCode(t, err, codes.AlreadyExists, "create existing collection")
	require.Contains(t, err.Error(), "already exists")

	missing := collName(t, "missing")
	_, err = client.GetCollectionInfo(ctx(t), missing)
	wantCode(t, err, codes.NotFound, "GetCollectionInfo(missing)")
	err = client.UpdateCollection(ctx(t), &qdrant.UpdateCollection{
		CollectionName:   missing,
		OptimizersConfig: &qdrant.OptimizersConfigDiff{IndexingThreshold: qdrant.PtrOf(uint64(10))},
	})
	wantCode(t, err, codes.NotFound, "UpdateCollection(missing)")
	exists, err := client.CollectionExists(ctx(t), missing)
	require.NoError(t, err)
	require.False(t, exists)

	bad := []struct {
		what string
		req  *qdrant.CreateCollection
	}{
		{"size 0", &qdrant.CreateCollection{CollectionName: collName(t, "zero"),
			VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 0, Distance: qdrant.Distance_Cosine})}},
		{"size 65537", &qdrant.CreateCollection{CollectionName: collName(t, "huge"),
			VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 65537, Distance: qdrant.Distance_Cosine})}},
		{"empty name", &qdrant.CreateCollection{CollectionName: "",
			VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_Cosine})}},
		{"name with slash", &qdrant.CreateCollection{CollectionName: "a/b",
			VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_Cosine})}},
		{"unknown distance", &qdrant.CreateCollection{CollectionName: collName(t, "dist"),
			VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_UnknownDistance})}},
	}
	for _, b := range bad {
		err := client.CreateCollection(ctx(t), b.req)
		wantCode(t, err, codes.InvalidArgument, "create with "+b.what)
		if b.req.CollectionName != "" && !strings.Contains(b.req.CollectionName, "/") {
			exists, err := client.CollectionExists(ctx(t), b.req.CollectionName)
			require.NoError(t, err)
			require.False(t, exists, "collection created despite %s", b.what)
		}
	}
}
