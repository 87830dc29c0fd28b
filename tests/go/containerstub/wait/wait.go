// Package wait is the stand-in for testcontainers-go/wait used by the
// go-client tests: ForAll and ForListeningPort(...).WithStartupTimeout(...).
//
// Design: a Strategy waits against a Target, which the stub container
// implements by dialling the Quiver server's mapped port.
package wait

import (
	"context"
	"time"
)

// defaultStartupTimeout is upstream's default.
const defaultStartupTimeout = 60 * time.Second

// Target is what a strategy waits on.
type Target interface {
	WaitForPort(ctx context.Context, port string, timeout time.Duration) error
}

// Strategy waits until a target is ready.
type Strategy interface {
	WaitUntilReady(ctx context.Context, target Target) error
}

// MultiStrategy waits for every strategy in turn.
type MultiStrategy struct {
	Strategies []Strategy
}

// ForAll combines strategies.
func ForAll(strategies ...Strategy) *MultiStrategy {
	return &MultiStrategy{Strategies: strategies}
}

// WaitUntilReady runs each strategy in order.
func (m *MultiStrategy) WaitUntilReady(ctx context.Context, target Target) error {
	for _, s := range m.Strategies {
		if err := s.WaitUntilReady(ctx, target); err != nil {
			return err
		}
	}
	return nil
}

// HostPortStrategy waits until a container port accepts TCP connections.
type HostPortStrategy struct {
	Port           string
	startupTimeout time.Duration
}

// ForListeningPort waits for the given container port ("6334/tcp").
func ForListeningPort(port string) *HostPortStrategy {
	return &HostPortStrategy{Port: port, startupTimeout: defaultStartupTimeout}
}

// WithStartupTimeout sets how long to wait.
func (h *HostPortStrategy) WithStartupTimeout(d time.Duration) *HostPortStrategy {
	h.startupTimeout = d
	return h
}

// WaitUntilReady dials the port through the target.
func (h *HostPortStrategy) WaitUntilReady(ctx context.Context, target Target) error {
	return target.WaitForPort(ctx, h.Port, h.startupTimeout)
}
