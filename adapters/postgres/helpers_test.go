package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/internal/pgtest"
)

var (
	srv    *pgtest.Server
	srvErr error
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	srv, srvErr = pgtest.New()
	code := m.Run()
	if srv != nil {
		srv.Close()
	}
	os.Exit(code)
}

// server returns the package's PostgreSQL server, or fails (CI=true, or
// installed but broken) or skips t.
func server(t testing.TB) *pgtest.Server {
	t.Helper()
	if srvErr != nil {
		pgtest.Fail(t, srvErr)
	}
	return srv
}

// newPool returns a pool on the package's server, closed when t ends.
func newPool(t testing.TB, maxConns int) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(server(t).URL(""))
	require.NoError(t, err)
	cfg.MaxConns = int32(maxConns)
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

var (
	sharedOnce sync.Once
	sharedPool *pgxpool.Pool
)

// shared returns one pool for the whole package (never closed before the
// process ends), for suites whose subtests each need a store.
func shared(t testing.TB) *pgxpool.Pool {
	t.Helper()
	server(t)
	sharedOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(srv.URL(""))
		if err != nil {
			panic(err)
		}
		cfg.MaxConns = 120
		sharedPool, err = pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			panic(err)
		}
	})
	return sharedPool
}

// newSchema returns a new schema name, migrated on pool.
func newSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	require.NoError(t, postgres.Migrate(context.Background(), pool, postgres.Schema(name)))
	return name
}

var (
	schemasMu sync.Mutex
	schemas   = map[string]string{}
)

// schemaFor returns the schema of test t (the same for every call of one
// test, so that a durable suite's queues share their storage).
func schemaFor(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	schemasMu.Lock()
	defer schemasMu.Unlock()
	name := strings.SplitN(t.Name(), "/", 3)
	key := strings.Join(name, "/")
	if s, ok := schemas[key]; ok {
		return s
	}
	s := newSchema(t, pool)
	schemas[key] = s
	return s
}

// bounded returns a context that ends after 10 s, for cleanups' Shutdown
// calls: with PostgreSQL stopped by a test, a Shutdown without a deadline
// would wait for ever for outcomes it cannot record.
func bounded() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	time.AfterFunc(11*time.Second, cancel)
	return ctx
}
