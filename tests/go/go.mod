// Go gRPC acceptance module (issue 3): grpcapi/ tests Quiver through the
// official Go client; cmd/clientsuite runs the client's own qdrant_test
// package against Quiver.  go-client is pinned to the latest version the
// proxy serves; grpc/protobuf stay at the versions go-client itself requires.
// The go-client's tests start Qdrant with testcontainers-go; the replace below
// swaps in a project-owned stub that answers with a running Quiver server
// (see containerstub/testcontainers.go and run.sh).
module quiver/tests/go

go 1.24.0

replace github.com/testcontainers/testcontainers-go => ./containerstub

require (
	github.com/qdrant/go-client v1.17.1
	github.com/stretchr/testify v1.11.1
	google.golang.org/grpc v1.78.0
	google.golang.org/protobuf v1.36.11
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	golang.org/x/net v0.50.0 // indirect
	golang.org/x/sys v0.41.0 // indirect
	golang.org/x/text v0.34.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260209200024-4cfbd4190f57 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
