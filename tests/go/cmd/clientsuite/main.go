// Command clientsuite runs the go-client's own test package
// (github.com/qdrant/go-client/qdrant_test, from the module cache) against a
// Quiver server and compares its failures with known_failures.txt.
//
// Design: it starts Quiver through the harness package (free ports, fresh
// storage, SIGTERM + exit code 0 at the end), then runs
// `go test -count=1 -json <pkg>` in this module, where go.mod replaces
// testcontainers-go with ./containerstub; the stub reads QUIVER_GRPC_HOST /
// QUIVER_GRPC_PORT / QUIVER_HTTP_PORT and hands the running server to every
// "container" the tests start.  The test output is echoed with a
// "[go-client] " prefix (so it is not mistaken for this project's own go test
// summary).  Verdict:
//   - a failing test that is listed in known_failures.txt is expected;
//   - a failing parent test whose failure comes only from failing subtests
//     (no error output of its own) is judged through those subtests;
//   - any other failure, a test that started but never finished (panic,
//     timeout), a build failure, or a non-zero server exit fails the run;
//   - listed tests that now pass (or no longer exist) are printed so the list
//     gets trimmed; they do not fail the run.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"quiver/tests/go/harness"
)

type event struct {
	Action  string
	Test    string
	Package string
	Output  string
	Elapsed float64
}

type testState struct {
	action    string   // run, pass, fail, skip
	ownErrors []string // lines that show the test failed by itself
	output    []string // the test's own output (first 200 lines)
}

// Lines a test prints itself when it fails: "    file_test.go:12: ...",
// testify's "Error Trace:", or a panic.
var ownErrorRe = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: |Error Trace:|^panic: `)

func main() {
	knownPath := flag.String("known", "known_failures.txt", "file listing the expected failures")
	pkg := flag.String("pkg", "github.com/qdrant/go-client/qdrant_test", "package to test")
	timeout := flag.String("timeout", "3m", "go test -timeout")
	flag.Parse()
	os.Exit(run(*knownPath, *pkg, *timeout))
}

func run(knownPath, pkg, timeout string) int {
	known, err := readKnown(knownPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clientsuite:", err)
		return 2
	}

	srv, err := harness.Start(harness.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "clientsuite: cannot start quiver:", err)
		return 2
	}
	fmt.Printf("clientsuite: quiver %s (pid %d) on gRPC %s, REST %s\n", srv.Bin, srv.Pid(), srv.GRPCAddr(), srv.URL())

	cmd := exec.Command("go", "test", "-count=1", "-json", "-timeout", timeout, pkg)
	cmd.Env = append(os.Environ(),
		"QUIVER_GRPC_HOST="+srv.Host,
		"QUIVER_GRPC_PORT="+strconv.Itoa(srv.GRPCPort),
		"QUIVER_HTTP_PORT="+strconv.Itoa(srv.HTTPPort),
	)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		srv.Kill()
		fmt.Fprintln(os.Stderr, "clientsuite:", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		srv.Kill()
		fmt.Fprintln(os.Stderr, "clientsuite:", err)
		return 2
	}
	tests, order, nonJSON := consume(stdout)
	goErr := cmd.Wait()

	failed := false
	if err := srv.Stop(); err != nil {
		fmt.Println("clientsuite: UNEXPECTED:", err)
		failed = true
	}

	var passed, skipped []string
	var expected, unexpected []string
	for _, name := range order {
		st := tests[name]
		switch st.action {
		case "pass":
			passed = append(passed, name)
		case "skip":
			skipped = append(skipped, name)
		case "fail":
			if _, ok := known[name]; ok {
				expected = append(expected, name)
			} else if hasFailedChild(tests, name) && len(st.ownErrors) == 0 {
				// judged through its subtests
			} else {
				unexpected = append(unexpected, name)
			}
		default:
			if _, ok := known[name]; ok {
				expected = append(expected, name)
			} else {
				unexpected = append(unexpected, name+" (started but never finished)")
			}
		}
	}
	if goErr != nil && len(expected)+len(unexpected) == 0 {
		fmt.Printf("clientsuite: UNEXPECTED: go test failed without a failing test (%v)\n", goErr)
		failed = true
	}
	if len(tests) == 0 {
		fmt.Println("clientsuite: UNEXPECTED: no test ran")
		failed = true
	}
	for _, l := range nonJSON {
		fmt.Println("[go-client] " + l)
	}

	var nowPassing, missing []string
	for name := range known {
		st, ok := tests[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case st.action == "pass":
			nowPassing = append(nowPassing, name)
		}
	}
	sort.Strings(nowPassing)
	sort.Strings(missing)

	fmt.Println()
	fmt.Println("clientsuite: known failures (still failing):")
	for _, n := range expected {
		fmt.Printf("  %s  -- %s\n", n, known[n])
	}
	if len(nowPassing) > 0 {
		fmt.Println("clientsuite: listed in known_failures.txt but PASSING now (trim the list):")
		for _, n := range nowPassing {
			fmt.Println("  " + n)
		}
	}
	if len(missing) > 0 {
		fmt.Println("clientsuite: listed in known_failures.txt but did not run (blocked by an earlier failure, renamed or removed):")
		for _, n := range missing {
			fmt.Println("  " + n)
		}
	}
	if len(unexpected) > 0 {
		failed = true
		fmt.Println("clientsuite: UNEXPECTED failures (not in known_failures.txt):")
		for _, n := range unexpected {
			fmt.Println("  " + n)
			for _, l := range tests[strings.TrimSuffix(n, " (started but never finished)")].output {
				fmt.Println("      " + l)
			}
		}
	}
	fmt.Printf("clientsuite: %d tests passed, %d skipped, %d known failures, %d unexpected\n",
		len(passed), len(skipped), len(expected), len(unexpected))
	if failed {
		fmt.Println("clientsuite: FAILED")
		return 1
	}
	fmt.Println("clientsuite: OK")
	return 0
}

// consume reads go test -json events, echoes the output and records each
// test's outcome and own error lines.
func consume(r io.Reader) (map[string]*testState, []string, []string) {
	tests := map[string]*testState{}
	var order, nonJSON []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil || ev.Action == "" {
			nonJSON = append(nonJSON, string(line))
			continue
		}
		if ev.Action == "output" || ev.Action == "build-output" {
			fmt.Print("[go-client] " + ev.Output)
			if !strings.HasSuffix(ev.Output, "\n") {
				fmt.Println()
			}
		}
		if ev.Test == "" {
			continue
		}
		st, ok := tests[ev.Test]
		if !ok {
			st = &testState{action: "run"}
			tests[ev.Test] = st
			order = append(order, ev.Test)
		}
		switch ev.Action {
		case "pass", "fail", "skip":
			st.action = ev.Action
		case "output":
			if len(st.output) < 200 && !strings.HasPrefix(ev.Output, "=== ") {
				st.output = append(st.output, strings.TrimRight(ev.Output, "\n"))
			}
			if ownErrorRe.MatchString(ev.Output) {
				st.ownErrors = append(st.ownErrors, strings.TrimRight(ev.Output, "\n"))
			}
		}
	}
	return tests, order, nonJSON
}

func hasFailedChild(tests map[string]*testState, name string) bool {
	for n, st := range tests {
		if strings.HasPrefix(n, name+"/") && st.action == "fail" {
			return true
		}
	}
	return false
}

// readKnown parses "TestName reason..." lines; '#' starts a comment line.
func readKnown(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	known := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '\t'); i >= 0 {
			name, reason = name[:i], name[i+1:]+" "+reason
		}
		known[name] = strings.TrimSpace(reason)
	}
	return known, sc.Err()
}
