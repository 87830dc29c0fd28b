// A project-owned stand-in for github.com/testcontainers/testcontainers-go,
// wired into ../go.mod with a replace directive so that the go-client's own
// qdrant_test package runs against a Quiver server instead of a Docker
// container. It has no dependencies.
module github.com/testcontainers/testcontainers-go

go 1.24
