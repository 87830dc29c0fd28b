// Payload operations through the Go client: SetPayload (merge; with `key`
// into a nested object), OverwritePayload, DeletePayload (top-level and
// nested keys), ClearPayload, each by ids and by filter, and UpdateBatch
// running several operations in order. Every step reads the payloads back
// exactly.
package grpcapi

import (
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
)

func payloadOf(t *testing.T, coll string, id uint64) map[string]*qdrant.Value {
	t.Helper()
	r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: coll, Ids: []*qdrant.PointId{qdrant.NewIDNum(id)},
		WithPayload: qdrant.NewWithPayload(true)})
	require.NoError(t, err)
	require.Len(t, r, 1, "point %d", id)
	return r[0].GetPayload()
}

func payloadCollection(t *testing.T) string {
	name := simpleCollection(t, 2, qdrant.Distance_Dot)
	upsert(t, name,
		&qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 0), Payload: qdrant.NewValueMap(map[string]any{
			"city": "Berlin", "n": 1, "nested": map[string]any{"x": 1, "y": []any{1, 2}}})},
		&qdrant.PointStruct{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectors(0, 1), Payload: qdrant.NewValueMap(map[string]any{
			"city": "Paris", "n": 2})},
		&qdrant.PointStruct{Id: qdrant.NewIDNum(3), Vectors: qdrant.NewVectors(1, 1), Payload: qdrant.NewValueMap(map[string]any{
			"city": "Rome", "n": 3})},
	)
	return name
}

func vm(m map[string]any) map[string]*qdrant.Value { return qdrant.NewValueMap(m) }

func TestSetPayload(t *testing.T) {
	name := payloadCollection(t)
	// By ids: merges into the existing payload.
	_, err := client.SetPayload(ctx(t), &qdrant.SetPayloadPoints{CollectionName: name, Wait: &waitTrue,
		PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(1)),
		Payload:        vm(map[string]any{"n": 10, "new": "v", "list": []any{"a", 1.5}})})
	require.NoError(t, err)
	requirePayload(t, vm(map[string]any{"city": "Berlin", "n": 10, "new": "v", "list": []any{"a", 1.5},
		"nested": map[string]any{"x": 1, "y": []any{1, 2}}}), payloadOf(t, name, 1))

	// With key: merges into the nested object.
	_, err = client.SetPayload(ctx(t), &qdrant.SetPayloadPoints{CollectionName: name, Wait: &waitTrue,
		PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(1)), Key: qdrant.PtrOf("nested"),
		Payload: vm(map[string]any{"z": 9, "x": "one"})})
	require.NoError(t, err)
	requirePayload(t, vm(map[string]any{"x": "one", "y": []any{1, 2}, "z": 9}),
		payloadOf(t, name, 1)["nested"].GetStructValue().GetFields())

	// By filter: only matching points change.
	_, err = client.SetPayload(ctx(t), &qdrant.SetPayloadPoints{CollectionName: name, Wait: &waitTrue,
		PointsSelector: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewMatchKeywords("city", "Paris", "Rome")}}),
		Payload: vm(map[string]any{"tag": "t"})})
	require.NoError(t, err)
	requirePayload(t, vm(map[string]any{"city": "Paris", "n": 2, "tag": "t"}), payloadOf(t, name, 2))
	requirePayload(t, vm(map[string]any{"city": "Rome", "n": 3, "tag": "t"}), payloadOf(t, name, 3))
	require.NotContains(t, payloadOf(t, name, 1), "tag")
	count, err := client.Count(ctx(t), &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true),
		Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("tag", "t")}}})
	require.NoError(t, err)
	require.Equal(t, uint64(2), count)
}

func TestOverwriteDeleteClearPayload(t *testing.T) {
	name := payloadCollection(t)

	_, err := client.OverwritePayload(ctx(t), &qdrant.SetPayloadPoints{CollectionName: name, Wait: &waitTrue,
		PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(2)), Payload: vm(map[string]any{"only": true})})
	require.NoError(t, err)
	requirePayload(t, vm(map[string]any{"only": true}), payloadOf(t, name, 2))

	_, err = client.OverwritePayload(ctx(t), &qdrant.SetPayloadPoints{CollectionName: name, Wait: &waitTrue,
		PointsSelector: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewHasID(qdrant.NewIDNum(3))}}),
		Payload: vm(map[string]any{"o": 2})})
	require.NoError(t, err)
	requirePayload(t, vm(map[string]any{"o": 2}), payloadOf(t, name, 3))

	// DeletePayload: top-level and nested keys; a missing key is ignored.
	_, err = client.DeletePayload(ctx(t), &qdrant.DeletePayloadPoints{CollectionName: name, Wait: &waitTrue,
		PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(1)), Keys: []string{"n", "nested.y", "missing"}})
	require.NoError(t, err)
	requirePayload(t, vm(map[string]any{"city": "Berlin", "nested": map[string]any{"x": 1}}), payloadOf(t, name, 1))

	// DeletePayload by filter.
	_, err = client.DeletePayload(ctx(t), &qdrant.DeletePayloadPoints{CollectionName: name, Wait: &waitTrue,
		PointsSelector: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Should: []*qdrant.Condition{
			qdrant.NewMatchBool("only", true), qdrant.NewMatchInt("o", 2)}}),
		Keys: []string{"only", "o"}})
	require.NoError(t, err)
	require.Empty(t, payloadOf(t, name, 2))
	require.Empty(t, payloadOf(t, name, 3))

	// ClearPayload by ids, then by filter.
	upsert(t, name, &qdrant.PointStruct{Id: qdrant.NewIDNum(4), Vectors: qdrant.NewVectors(2, 2),
		Payload: vm(map[string]any{"city": "Oslo"})})
	_, err = client.ClearPayload(ctx(t), &qdrant.ClearPayloadPoints{CollectionName: name, Wait: &waitTrue,
		Points: qdrant.NewPointsSelector(qdrant.NewIDNum(1))})
	require.NoError(t, err)
	require.Empty(t, payloadOf(t, name, 1))
	requirePayload(t, vm(map[string]any{"city": "Oslo"}), payloadOf(t, name, 4))
	_, err = client.ClearPayload(ctx(t), &qdrant.ClearPayloadPoints{CollectionName: name, Wait: &waitTrue,
		Points: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("city", "Oslo")}})})
	require.NoError(t, err)
	require.Empty(t, payloadOf(t, name, 4))
	// Vectors are untouched by payload operations.
	r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(4)},
		WithVectors: qdrant.NewWithVectors(true)})
	require.NoError(t, err)
	require.Equal(t, []float32{2, 2}, denseOf(r[0].GetVectors().GetVector()))
}

func TestUpdateBatchInOrder(t *testing.T) {
	name := payloadCollection(t)
	res, err := client.UpdateBatch(ctx(t), &qdrant.UpdateBatchPoints{CollectionName: name, Wait: &waitTrue,
		Operations: []*qdrant.PointsUpdateOperation{
			qdrant.NewPointsUpdateUpsert(&qdrant.PointsUpdateOperation_PointStructList{Points: []*qdrant.PointStruct{
				{Id: qdrant.NewIDNum(10), Vectors: qdrant.NewVectors(5, 5), Payload: vm(map[string]any{"a": 1})}}}),
			qdrant.NewPointsUpdateSetPayload(&qdrant.PointsUpdateOperation_SetPayload{
				PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(10)), Payload: vm(map[string]any{"b": 2})}),
			qdrant.NewPointsUpdateDeletePayload(&qdrant.PointsUpdateOperation_DeletePayload{
				PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(10)), Keys: []string{"a"}}),
			qdrant.NewPointsUpdateUpdateVectors(&qdrant.PointsUpdateOperation_UpdateVectors{
				Points: []*qdrant.PointVectors{{Id: qdrant.NewIDNum(10), Vectors: qdrant.NewVectors(6, 7)}}}),
			qdrant.NewPointsUpdateDeletePoints(&qdrant.PointsUpdateOperation_DeletePoints{
				Points: qdrant.NewPointsSelector(qdrant.NewIDNum(2))}),
		}})
	require.NoError(t, err)
	require.Len(t, res, 5)
	for _, r := range res {
		require.Equal(t, qdrant.UpdateStatus_Completed, r.GetStatus())
		require.NotNil(t, r.OperationId, "operation_id is always set")
	}
	requirePayload(t, vm(map[string]any{"b": 2}), payloadOf(t, name, 10))
	r, err := client.Get(ctx(t), &qdrant.GetPoints{CollectionName: name,
		Ids:         []*qdrant.PointId{qdrant.NewIDNum(10), qdrant.NewIDNum(2)},
		WithVectors: qdrant.NewWithVectors(true)})
	require.NoError(t, err)
	require.Len(t, r, 1)
	require.Equal(t, []float32{6, 7}, denseOf(r[0].GetVectors().GetVector()))
}
