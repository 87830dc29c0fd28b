// Package grpcapi tests Quiver's gRPC API through the official Go client,
// github.com/qdrant/go-client (pinned in ../go.mod).
//
// Design: TestMain starts one Quiver server (harness package: free ports,
// fresh storage, SIGTERM and exit code 0 at the end) and one client shared by
// all tests.  Every test works in its own collection(s), named after the test,
// so tests are independent of order.  Assertions check real results: query
// results against a brute-force computation in Go over the same data, exact
// payload and float read-back, and gRPC status codes for errors, following
// Qdrant 1.19's behaviour (../shared/docs/COMPAT-NOTES.md).  Nothing depends
// on timing.
package grpcapi

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"quiver/tests/go/harness"
)

var (
	srv    *harness.Server
	client *qdrant.Client
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	srv, err = harness.Start(harness.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpcapi: cannot start quiver:", err)
		return 1
	}
	client, err = qdrant.NewClient(&qdrant.Config{
		Host:                   srv.Host,
		Port:                   srv.GRPCPort,
		SkipCompatibilityCheck: true,
	})
	if err != nil {
		srv.Kill()
		fmt.Fprintln(os.Stderr, "grpcapi: cannot create client:", err)
		return 1
	}
	code := m.Run()
	client.Close()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "grpcapi:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// ctx returns a context with a generous deadline (the machine is shared).
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

var nameRe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// collName derives a collection name from the test name plus a suffix.
func collName(t *testing.T, suffix string) string {
	n := nameRe.ReplaceAllString(t.Name(), "_")
	if suffix != "" {
		n += "_" + suffix
	}
	return strings.ToLower(n)
}

// newCollection creates a collection (deleted at the end of the test).
func newCollection(t *testing.T, req *qdrant.CreateCollection) string {
	t.Helper()
	if req.CollectionName == "" {
		req.CollectionName = collName(t, "")
	}
	name := req.CollectionName
	if err := client.CreateCollection(ctx(t), req); err != nil {
		t.Fatalf("CreateCollection(%s): %v", name, err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, _ = client.GetCollectionsClient().Delete(c, &qdrant.DeleteCollection{CollectionName: name})
	})
	return name
}

// simpleCollection creates a collection with one unnamed vector.
func simpleCollection(t *testing.T, dim uint64, dist qdrant.Distance) string {
	t.Helper()
	return newCollection(t, &qdrant.CreateCollection{
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: dim, Distance: dist}),
	})
}

var waitTrue = true

func upsert(t *testing.T, coll string, pts ...*qdrant.PointStruct) {
	t.Helper()
	res, err := client.Upsert(ctx(t), &qdrant.UpsertPoints{CollectionName: coll, Points: pts, Wait: &waitTrue})
	if err != nil {
		t.Fatalf("Upsert into %s: %v", coll, err)
	}
	if res.GetStatus() != qdrant.UpdateStatus_Completed {
		t.Fatalf("Upsert status %v, want Completed", res.GetStatus())
	}
}

// wantCode asserts that err carries the gRPC status code want.
func wantCode(t *testing.T, err error, want codes.Code, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %v", what, want)
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%s: error without gRPC status: %v", what, err)
	}
	if st.Code() != want {
		t.Fatalf("%s: code %v (%q), want %v", what, st.Code(), st.Message(), want)
	}
}

// skipIfUnimplemented skips the test when the server answers UNIMPLEMENTED
// for a feature that has not landed yet (Quiver's documented behaviour for
// such RPCs), printing the reason; QUIVER_GO_STRICT=1 makes it a failure.
func skipIfUnimplemented(t *testing.T, err error, feature string) {
	t.Helper()
	if status.Code(err) != codes.Unimplemented {
		return
	}
	if os.Getenv("QUIVER_GO_STRICT") == "1" {
		t.Fatalf("%s: UNIMPLEMENTED (QUIVER_GO_STRICT=1): %v", feature, err)
	}
	t.Skipf("SKIP: %s is not implemented by this server yet: %v", feature, err)
}

// idString renders a PointId for messages and comparisons.
func idString(id *qdrant.PointId) string {
	switch v := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return fmt.Sprintf("%d", v.Num)
	case *qdrant.PointId_Uuid:
		return v.Uuid
	}
	return "<nil>"
}

// scoredIDs lists the ids of scored points as strings.
func scoredIDs(pts []*qdrant.ScoredPoint) []string {
	out := make([]string, len(pts))
	for i, p := range pts {
		out[i] = idString(p.GetId())
	}
	return out
}

func retrievedIDs(pts []*qdrant.RetrievedPoint) []string {
	out := make([]string, len(pts))
	for i, p := range pts {
		out[i] = idString(p.GetId())
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// denseOf returns the dense data of a vector output (either encoding).
func denseOf(v *qdrant.VectorOutput) []float32 {
	if d := v.GetDense(); d != nil {
		return d.GetData()
	}
	return v.GetData() //nolint:staticcheck // deprecated encoding still allowed
}
