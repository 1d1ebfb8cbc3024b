// Package pgtest starts real PostgreSQL servers for tests: Debian's
// postgresql binaries (under /usr/lib/postgresql/*/bin, or on PATH), a data
// directory made by initdb in a temporary directory, and a free loopback
// port. Under CI=true a server that cannot start fails the test instead of
// skipping it.
//
// When the test runs as root, initdb and postgres run as an unprivileged
// user (postgres when it exists, otherwise nobody), which owns the
// temporary directory: PostgreSQL refuses to run as root.
//
// The server runs with fsync=off and full_page_writes=off, which only an
// operating-system crash can punish, never a crash of PostgreSQL itself;
// synchronous_commit stays on, so that a commit PostgreSQL acknowledged is
// in the WAL (the kernel's page cache) before the client hears of it, and
// survives Stop (an immediate shutdown, as a crash) and Restart. Tests that
// kill PostgreSQL and count acknowledged events rely on this.
package pgtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// User is the database superuser the servers are initialized with; it
// connects without a password from loopback (trust authentication).
const User = "hookwise"

// ErrNotInstalled matches the error of New when no PostgreSQL binaries are
// found.
var ErrNotInstalled = errors.New("pgtest: postgresql server binaries not installed (apt-get install postgresql)")

// Server is one PostgreSQL server owned by a test or a test binary.
type Server struct {
	// Port is the server's loopback port.
	Port int

	bin  string // directory of initdb, postgres, pg_isready
	root string // temporary directory (removed by Close)
	data string // data directory
	cred *syscall.Credential

	fsync bool // Fsync

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exited
}

// URL returns a connection URL for database db ("postgres" when empty).
func (s *Server) URL(db string) string {
	if db == "" {
		db = "postgres"
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", User, s.Port, db)
}

// BinDir returns the directory holding initdb and postgres, or
// ErrNotInstalled.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Option configures a server.
type Option func(*Server)

// Fsync runs the server with fsync and full_page_writes on, as in
// production: every commit waits for its WAL to reach the disk. Benchmarks
// that compare commit rates with a Redis that fsyncs every write use it.
func Fsync() Option { return func(s *Server) { s.fsync = true } }

// Start starts a server for tb and stops it, removing its files, when tb
// ends. Without PostgreSQL it skips tb, or fails it under CI=true.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := New(opts...)
	if err != nil {
		Fail(tb, err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Fail reports that a server could not start: tb fails under CI=true or
// when PostgreSQL is installed but did not start, and is skipped when it is
// not installed.
func Fail(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" || !errors.Is(err, ErrNotInstalled) {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Skipf("pgtest: %v", err)
}

// New initializes a data directory and starts a server on a free loopback
// port. The caller stops it with Close.
func New(opts ...Option) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, root: root, data: filepath.Join(root, "data")}
	for _, o := range opts {
		o(s)
	}
	if os.Geteuid() == 0 {
		if s.cred, err = unprivileged(); err != nil {
			os.RemoveAll(root)
			return nil, err
		}
		if err := os.Chown(root, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(root)
			return nil, err
		}
	}
	out, err := s.command("initdb", "-D", s.data, "-U", User, "--auth=trust", "-E", "UTF8",
		"--no-locale", "--no-sync").CombinedOutput()
	if err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		s.Port, err = freePort()
		if err == nil {
			err = s.start()
		}
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			os.RemoveAll(root)
			return nil, err
		}
	}
}

// unprivileged returns the credentials of the user postgres or, when it
// does not exist, nobody.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("pgtest: running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	logf, err := os.OpenFile(filepath.Join(s.root, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fsync := "off" // survives a crash of PostgreSQL, not of the machine
	if s.fsync {
		fsync = "on"
	}
	cmd := s.command("postgres", "-D", s.data, "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync="+fsync,
		"-c", "full_page_writes="+fsync,
		"-c", "synchronous_commit=on", // never off: an acknowledged commit must survive Stop
		"-c", "max_connections=300",
		"-c", "shared_buffers=32MB",
		"-c", "dynamic_shared_memory_type=mmap",
		"-c", "log_min_messages=warning",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if err := s.waitReady(done, 30*time.Second); err != nil {
		s.Stop()
		log, _ := os.ReadFile(filepath.Join(s.root, "postgres.log"))
		if len(log) > 4096 {
			log = log[len(log)-4096:]
		}
		return fmt.Errorf("%w\n%s", err, log)
	}
	return nil
}

func (s *Server) waitReady(done <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := s.command("pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", User, "-d", "postgres", "-t", "1").Run()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return errors.New("pgtest: postgres exited before accepting connections")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres on port %d not ready after %v", s.Port, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down at once, as a crash: an immediate shutdown
// (SIGQUIT), which writes no checkpoint, so that Restart runs crash
// recovery. It returns once the server has exited. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts a stopped server again on the same port and data
// directory.
func (s *Server) Restart() error {
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		return errors.New("pgtest: server is running")
	}
	return s.start()
}

// Close stops the server and removes its files.
func (s *Server) Close() {
	s.Stop()
	_ = os.RemoveAll(s.root)
}
