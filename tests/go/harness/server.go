// Package harness starts and stops a Quiver server for the Go test suites.
//
// Design (the same contract as tests/node-common/server.js and
// tests/py/quiver_harness.py): Start launches the binary named by $QUIVER_BIN
// (default ../../build/release/quiver relative to tests/go) on a free REST
// port and a free gRPC port with a fresh temporary storage directory,
// configured the way Qdrant is configured (QDRANT__SECTION__KEY variables,
// inherited QDRANT__* variables removed), from a scratch working directory
// so that no config/config.yaml is picked up.  The server counts as ready
// once GET /readyz answers 200 and the gRPC port accepts TCP connections.
// A port taken between probing and binding is retried with new ports.
// Stop sends SIGTERM, waits for the exit and reports a non-zero exit code or
// a hang as an error; the storage directory is then removed.
package harness

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// Server is one running Quiver process.
type Server struct {
	Bin      string
	Host     string
	HTTPPort int
	GRPCPort int
	Storage  string
	workDir  string
	logPath  string
	cmd      *exec.Cmd
	logFile  *os.File
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// Options tune Start.
type Options struct {
	// Env adds QDRANT__* (or other) variables to the server's environment.
	Env map[string]string
}

// Bin returns the server binary: $QUIVER_BIN (a relative path is taken from
// the working directory when it exists there, else from the repository
// root), or build/release/quiver at the repository root.
func Bin() string {
	root := repoRoot()
	if b := os.Getenv("QUIVER_BIN"); b != "" {
		if filepath.IsAbs(b) {
			return b
		}
		if _, err := os.Stat(b); err == nil || root == "" {
			abs, _ := filepath.Abs(b)
			return abs
		}
		return filepath.Join(root, b)
	}
	if root == "" {
		return filepath.Join("..", "..", "build", "release", "quiver")
	}
	return filepath.Join(root, "build", "release", "quiver")
}

// repoRoot is the repository root, from this source file's location
// (tests/go/harness/server.go).
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

var (
	portsMu   sync.Mutex
	handedOut = map[int]bool{}
)

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago and
// that this process has not handed out before.
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for i := 0; i < 64; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		held = append(held, l)
		p := l.Addr().(*net.TCPAddr).Port
		if !handedOut[p] {
			handedOut[p] = true
			return p, nil
		}
	}
	return 0, errors.New("no free port found")
}

// Start launches a server and waits until it is ready.
func Start(opts Options) (*Server, error) {
	bin := Bin()
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return nil, fmt.Errorf("quiver binary %s not found (set QUIVER_BIN or run make): %v", bin, err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startOnce(bin, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(strings.ToLower(err.Error()), "address") {
			break
		}
	}
	return nil, lastErr
}

func startOnce(bin string, opts Options) (*Server, error) {
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	grpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "quiver-go-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Bin:      bin,
		Host:     "127.0.0.1",
		HTTPPort: httpPort,
		GRPCPort: grpcPort,
		Storage:  filepath.Join(work, "storage"),
		workDir:  work,
		logPath:  filepath.Join(work, "server.log"),
		done:     make(chan struct{}),
	}
	if err := os.Mkdir(s.Storage, 0o755); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	s.logFile, err = os.Create(s.logPath)
	if err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(strings.ToUpper(kv), "QDRANT__") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"QDRANT__SERVICE__HOST=127.0.0.1",
		"QDRANT__SERVICE__HTTP_PORT="+strconv.Itoa(httpPort),
		"QDRANT__SERVICE__GRPC_PORT="+strconv.Itoa(grpcPort),
		"QDRANT__STORAGE__STORAGE_PATH="+s.Storage,
		"QDRANT__LOG_LEVEL=INFO",
	)
	for k, v := range opts.Env {
		env = append(env, k+"="+v)
	}
	s.cmd = exec.Command(bin)
	s.cmd.Dir = work
	s.cmd.Env = env
	s.cmd.Stdout = s.logFile
	s.cmd.Stderr = s.logFile
	if err := s.cmd.Start(); err != nil {
		s.logFile.Close()
		os.RemoveAll(work)
		return nil, err
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		s.Kill()
		os.RemoveAll(work)
		return nil, err
	}
	return s, nil
}

func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer yet"
	ready := false
	for time.Now().Before(deadline) {
		if s.exited() {
			return fmt.Errorf("quiver exited before it was ready (%v); output:\n%s", s.waitErr, s.Log())
		}
		if !ready {
			resp, err := client.Get(s.URL() + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ready = true
				} else {
					last = "HTTP " + resp.Status
				}
			} else {
				last = err.Error()
			}
		}
		if ready {
			conn, err := net.DialTimeout("tcp", s.GRPCAddr(), 2*time.Second)
			if err == nil {
				conn.Close()
				return nil
			}
			last = "gRPC port: " + err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("quiver not ready within %s (last: %s); output:\n%s", readyTimeout, last, s.Log())
}

// URL is the REST base URL.
func (s *Server) URL() string { return fmt.Sprintf("http://%s:%d", s.Host, s.HTTPPort) }

// GRPCAddr is host:port of the gRPC listener.
func (s *Server) GRPCAddr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.GRPCPort)) }

// Log returns the server's output so far (the last 64 KiB).
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 64<<10 {
		b = b[len(b)-64<<10:]
	}
	return string(b)
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop sends SIGTERM, waits for the process and removes the storage. It
// returns an error when the server hangs or exits with a non-zero code.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if !s.exited() {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(stopTimeout):
				_ = s.cmd.Process.Kill()
				<-s.done
				s.stopErr = fmt.Errorf("quiver did not stop within %s of SIGTERM; output:\n%s", stopTimeout, s.Log())
			}
		}
		if s.stopErr == nil {
			if code := s.cmd.ProcessState.ExitCode(); code != 0 {
				s.stopErr = fmt.Errorf("quiver exited with %s after SIGTERM, want code 0; output:\n%s",
					s.cmd.ProcessState.String(), s.Log())
			}
		}
		s.logFile.Close()
		os.RemoveAll(s.workDir)
	})
	return s.stopErr
}

// Kill sends SIGKILL and waits (used when start-up fails).
func (s *Server) Kill() {
	if !s.exited() {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
	s.logFile.Close()
}
