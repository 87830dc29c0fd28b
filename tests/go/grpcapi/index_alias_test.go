// Field indexes and aliases through the Go client, written as Qdrant 1.19
// behaves: CreateFieldIndex / DeleteFieldIndex show up in (and leave)
// payload_schema of the collection info, and filters answer the same with
// and without an index; UpdateAliases creates, renames, deletes and switches
// aliases (several actions in one call), ListAliases / ListCollectionAliases
// report them, an alias works wherever a collection name does, deleting a
// collection drops its aliases, and an alias to a missing collection is
// NotFound.
package grpcapi

import (
	"sort"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

func TestFieldIndexes(t *testing.T) {
	docs := genDocs(250, qDim, 21)
	name := simpleCollection(t, qDim, qdrant.Distance_Cosine)
	upsert(t, name, points(docs, false)...)

	indexes := []struct {
		field  string
		typ    qdrant.FieldType
		params *qdrant.PayloadIndexParams
		schema qdrant.PayloadSchemaType
	}{
		{"city", qdrant.FieldType_FieldTypeKeyword, nil, qdrant.PayloadSchemaType_Keyword},
		{"tags", qdrant.FieldType_FieldTypeKeyword, nil, qdrant.PayloadSchemaType_Keyword},
		{"n", qdrant.FieldType_FieldTypeInteger, qdrant.NewPayloadIndexParamsInt(&qdrant.IntegerIndexParams{
			Lookup: qdrant.PtrOf(true), Range: qdrant.PtrOf(true)}), qdrant.PayloadSchemaType_Integer},
		{"price", qdrant.FieldType_FieldTypeFloat, nil, qdrant.PayloadSchemaType_Float},
		{"flag", qdrant.FieldType_FieldTypeBool, nil, qdrant.PayloadSchemaType_Bool},
		{"meta.inner.k", qdrant.FieldType_FieldTypeInteger, nil, qdrant.PayloadSchemaType_Integer},
		{"maybe", qdrant.FieldType_FieldTypeKeyword, nil, qdrant.PayloadSchemaType_Keyword},
	}
	for _, ix := range indexes {
		res, err := client.CreateFieldIndex(ctx(t), &qdrant.CreateFieldIndexCollection{CollectionName: name,
			FieldName: ix.field, FieldType: ix.typ.Enum(), FieldIndexParams: ix.params, Wait: &waitTrue})
		skipIfUnimplemented(t, err, "CreateFieldIndex")
		require.NoError(t, err, "CreateFieldIndex %s", ix.field)
		require.Equal(t, qdrant.UpdateStatus_Completed, res.GetStatus())
	}
	info, err := client.GetCollectionInfo(ctx(t), name)
	require.NoError(t, err)
	schema := info.GetPayloadSchema()
	require.Len(t, schema, len(indexes))
	for _, ix := range indexes {
		require.Contains(t, schema, ix.field)
		require.Equal(t, ix.schema, schema[ix.field].GetDataType(), "schema type of %s", ix.field)
	}
	if p := schema["city"].Points; p != nil {
		require.Equal(t, uint64(len(docs)), *p, "points indexed on city")
	}

	// Same answers as without an index (TestFilters runs the cases unindexed).
	t.Run("filters", func(t *testing.T) { checkFilters(t, name, docs) })

	// Creating the same index again is accepted (idempotent in Qdrant).
	_, err = client.CreateFieldIndex(ctx(t), &qdrant.CreateFieldIndexCollection{CollectionName: name,
		FieldName: "city", FieldType: qdrant.FieldType_FieldTypeKeyword.Enum(), Wait: &waitTrue})
	require.NoError(t, err)

	// New points are covered by the index.
	upsert(t, name, &qdrant.PointStruct{Id: qdrant.NewIDNum(10000), Vectors: qdrant.NewVectorsDense(docs[0].vec),
		Payload: qdrant.NewValueMap(map[string]any{"city": "Quito"})})
	count, err := client.Count(ctx(t), &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true),
		Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("city", "Quito")}}})
	require.NoError(t, err)
	require.Equal(t, uint64(1), count)

	res, err := client.DeleteFieldIndex(ctx(t), &qdrant.DeleteFieldIndexCollection{CollectionName: name,
		FieldName: "city", Wait: &waitTrue})
	require.NoError(t, err)
	require.Equal(t, qdrant.UpdateStatus_Completed, res.GetStatus())
	info, err = client.GetCollectionInfo(ctx(t), name)
	require.NoError(t, err)
	require.NotContains(t, info.GetPayloadSchema(), "city")
	require.Len(t, info.GetPayloadSchema(), len(indexes)-1)
	count, err = client.Count(ctx(t), &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true),
		Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("city", "Quito")}}})
	require.NoError(t, err)
	require.Equal(t, uint64(1), count)

	_, err = client.CreateFieldIndex(ctx(t), &qdrant.CreateFieldIndexCollection{CollectionName: collName(t, "missing"),
		FieldName: "city", FieldType: qdrant.FieldType_FieldTypeKeyword.Enum(), Wait: &waitTrue})
	wantCode(t, err, codes.NotFound, "CreateFieldIndex on a missing collection")
}

func aliasesOf(t *testing.T, coll string) []string {
	t.Helper()
	a, err := client.ListCollectionAliases(ctx(t), coll)
	require.NoError(t, err)
	sort.Strings(a)
	return a
}

func allAliases(t *testing.T) map[string]string {
	t.Helper()
	list, err := client.ListAliases(ctx(t))
	require.NoError(t, err)
	out := map[string]string{}
	for _, a := range list {
		out[a.GetAliasName()] = a.GetCollectionName()
	}
	return out
}

func TestAliases(t *testing.T) {
	c1 := collName(t, "one")
	c2 := collName(t, "two")
	newCollection(t, &qdrant.CreateCollection{CollectionName: c1,
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot})})
	newCollection(t, &qdrant.CreateCollection{CollectionName: c2,
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot})})
	upsert(t, c1, &qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 0)})
	upsert(t, c2, &qdrant.PointStruct{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectors(0, 1)},
		&qdrant.PointStruct{Id: qdrant.NewIDNum(3), Vectors: qdrant.NewVectors(1, 1)})
	a := collName(t, "alias")
	b := collName(t, "renamed")
	t.Cleanup(func() {
		_ = client.UpdateAliases(ctx(t), []*qdrant.AliasOperations{qdrant.NewAliasDelete(a)})
		_ = client.UpdateAliases(ctx(t), []*qdrant.AliasOperations{qdrant.NewAliasDelete(b)})
	})

	err := client.CreateAlias(ctx(t), a, c1)
	skipIfUnimplemented(t, err, "UpdateAliases")
	require.NoError(t, err)
	require.Equal(t, []string{a}, aliasesOf(t, c1))
	require.Empty(t, aliasesOf(t, c2))
	require.Equal(t, c1, allAliases(t)[a])

	// An alias works wherever a collection name does.
	res, err := client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: a, Query: qdrant.NewQuery(1, 1)})
	require.NoError(t, err)
	require.Equal(t, []string{"1"}, scoredIDs(res))
	upsert(t, a, &qdrant.PointStruct{Id: qdrant.NewIDNum(5), Vectors: qdrant.NewVectors(2, 2)})
	count, err := client.Count(ctx(t), &qdrant.CountPoints{CollectionName: c1, Exact: qdrant.PtrOf(true)})
	require.NoError(t, err)
	require.Equal(t, uint64(2), count)
	info, err := client.GetCollectionInfo(ctx(t), a)
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.GetPointsCount())

	// Rename.
	require.NoError(t, client.RenameAlias(ctx(t), a, b))
	require.Equal(t, []string{b}, aliasesOf(t, c1))
	require.NotContains(t, allAliases(t), a)
	_, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: a, Query: qdrant.NewQuery(1, 1)})
	wantCode(t, err, codes.NotFound, "query through the old alias name")

	// Switch atomically: delete + create in one call.
	require.NoError(t, client.UpdateAliases(ctx(t), []*qdrant.AliasOperations{
		qdrant.NewAliasDelete(b), qdrant.NewAliasCreate(b, c2)}))
	require.Empty(t, aliasesOf(t, c1))
	require.Equal(t, []string{b}, aliasesOf(t, c2))
	res, err = client.Query(ctx(t), &qdrant.QueryPoints{CollectionName: b, Query: qdrant.NewQuery(1, 1)})
	require.NoError(t, err)
	require.Equal(t, []string{"3", "2"}, scoredIDs(res))

	// Delete.
	require.NoError(t, client.DeleteAlias(ctx(t), b))
	require.Empty(t, aliasesOf(t, c2))
	require.NotContains(t, allAliases(t), b)
	_, err = client.Count(ctx(t), &qdrant.CountPoints{CollectionName: b})
	wantCode(t, err, codes.NotFound, "count through a deleted alias")

	// An alias to a missing collection is refused.
	err = client.CreateAlias(ctx(t), a, collName(t, "missing"))
	wantCode(t, err, codes.NotFound, "alias to a missing collection")
	require.NotContains(t, allAliases(t), a)

	// Deleting a collection drops its aliases.
	require.NoError(t, client.CreateAlias(ctx(t), a, c2))
	require.NoError(t, client.DeleteCollection(ctx(t), c2))
	require.NotContains(t, allAliases(t), a)
}
