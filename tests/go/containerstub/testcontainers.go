// Package testcontainers is Quiver's stand-in for testcontainers-go.
//
// Design: github.com/qdrant/go-client's qdrant_test package starts Qdrant in
// Docker through testcontainers.GenericContainer and then only asks the
// container for its host and its mapped port "6334/tcp".  This package
// implements exactly that slice of the testcontainers-go API (ContainerRequest,
// GenericContainerRequest, Container with Start/Terminate/Host/MappedPort) and
// answers with an already running Quiver server whose address the runner
// (cmd/clientsuite) passes in environment variables:
//
//	QUIVER_GRPC_HOST  host of the server (default 127.0.0.1)
//	QUIVER_GRPC_PORT  its gRPC port, returned for "6334/tcp" (required)
//	QUIVER_HTTP_PORT  its REST port, returned for "6333/tcp" (optional)
//
// Start() honours the request's wait strategies (TCP connect on the mapped
// port within the startup timeout).  Terminate() does not stop the server: the
// runner owns it.  Image, Cmd and Env of the request (API key, cluster mode)
// cannot be applied to a shared server; they are kept for inspection only, and
// tests that depend on them are listed in ../known_failures.txt.
package testcontainers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"
)

// ContainerRequest mirrors the fields of testcontainers-go's request that
// the go-client tests set.
type ContainerRequest struct {
	Image        string
	ExposedPorts []string
	Env          map[string]string
	Cmd          []string
	WaitingFor   wait.Strategy
}

// GenericContainerRequest wraps a ContainerRequest, as upstream does.
type GenericContainerRequest struct {
	ContainerRequest
	Started bool
}

// Port is a "port/proto" string such as "6334/tcp", like nat.Port.
type Port string

// Port returns the number part.
func (p Port) Port() string {
	s, _, _ := strings.Cut(string(p), "/")
	return s
}

// Proto returns the protocol part ("tcp" when absent).
func (p Port) Proto() string {
	_, proto, ok := strings.Cut(string(p), "/")
	if !ok || proto == "" {
		return "tcp"
	}
	return proto
}

// Int returns the number part as an int (0 when it is not a number).
func (p Port) Int() int {
	n, _ := strconv.Atoi(p.Port())
	return n
}

// Container is the subset of testcontainers-go's Container interface the
// go-client tests call.
type Container interface {
	Start(ctx context.Context) error
	Terminate(ctx context.Context) error
	Host(ctx context.Context) (string, error)
	MappedPort(ctx context.Context, port Port) (Port, error)
}

// quiverContainer answers for the running Quiver server.
type quiverContainer struct {
	req   ContainerRequest
	host  string
	ports map[string]string // container port number -> host port number

	mu         sync.Mutex
	started    bool
	terminated bool
}

// GenericContainer "creates" a container: it resolves the Quiver server from
// the environment and, when req.Started is set, waits for it like Start does.
func GenericContainer(ctx context.Context, req GenericContainerRequest) (Container, error) {
	grpcPort := os.Getenv("QUIVER_GRPC_PORT")
	if grpcPort == "" {
		return nil, errors.New("containerstub: QUIVER_GRPC_PORT is not set (run the go-client suite through tests/go/run.sh)")
	}
	host := os.Getenv("QUIVER_GRPC_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	c := &quiverContainer{
		req:   req.ContainerRequest,
		host:  host,
		ports: map[string]string{"6334": grpcPort},
	}
	if p := os.Getenv("QUIVER_HTTP_PORT"); p != "" {
		c.ports["6333"] = p
	}
	if req.Started {
		if err := c.Start(ctx); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (c *quiverContainer) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.terminated {
		return errors.New("containerstub: container already terminated")
	}
	if c.started {
		return nil
	}
	if c.req.WaitingFor != nil {
		if err := c.req.WaitingFor.WaitUntilReady(ctx, c); err != nil {
			return err
		}
	}
	c.started = true
	return nil
}

func (c *quiverContainer) Terminate(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.terminated = true
	return nil
}

func (c *quiverContainer) Host(ctx context.Context) (string, error) {
	return c.host, nil
}

func (c *quiverContainer) MappedPort(ctx context.Context, port Port) (Port, error) {
	hp, ok := c.ports[port.Port()]
	if !ok || port.Proto() != "tcp" {
		return "", fmt.Errorf("containerstub: port %q is not mapped (known: 6334/tcp, and 6333/tcp when QUIVER_HTTP_PORT is set)", string(port))
	}
	return Port(hp + "/tcp"), nil
}

// WaitForPort implements wait.Target: it resolves a container port to the
// host address and dials it until it accepts a TCP connection.
func (c *quiverContainer) WaitForPort(ctx context.Context, port string, timeout time.Duration) error {
	hp, err := c.MappedPort(ctx, Port(port))
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(c.host, hp.Port())
	deadline := time.Now().Add(timeout)
	for {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("containerstub: %s (container port %s) not listening after %s: %w", addr, port, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
