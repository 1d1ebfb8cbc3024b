package postgres_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/internal/faulttest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// childEnv, set, makes the test binary a receiver process (childMain)
// instead of running tests: the kill -9 test starts and kills such
// processes.
const childEnv = "HOOKWISE_PG_CHILD"

// childModeEnv picks the child's receiver: unset, the one of childMain;
// fanoutOrderMode, the one of fanoutOrderChildMain.
const childModeEnv = "HOOKWISE_PG_CHILD_MODE"

// effectsHandler is a transactional handler that records one effect row
// per run of an event inside the transaction that completes it.
func effectsHandler(schema string) receiver.Handler {
	insert := `INSERT INTO ` + pgx.Identifier{schema, "effects"}.Sanitize() + ` (event_id) VALUES ($1)`
	return postgres.TxHandler(func(ctx context.Context, tx pgx.Tx, e *driver.Event) error {
		_, err := tx.Exec(ctx, insert, e.ID)
		return err
	})
}

// createEffects creates the effects table of schema.
func createEffects(t testing.TB, pool *pgxpool.Pool, schema string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `CREATE TABLE `+pgx.Identifier{schema, "effects"}.Sanitize()+
		` (event_id text NOT NULL, at timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
}

// childMain serves a receiver on the database and schema of the
// environment, printing its address, until killed.
func childMain() int {
	if os.Getenv(childModeEnv) == fanoutOrderMode {
		return fanoutOrderChildMain()
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("PG_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	schema := os.Getenv("PG_SCHEMA")
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(50*time.Millisecond),
		postgres.Visibility(time.Second), postgres.Workers(8))
	return faulttest.ServeChild(receiver.New(testProvider{}, effectsHandler(schema), in.Options("pgtest")...))
}

// startChild starts a receiver process on the database of server(t) and
// schema, and waits for its address.
func startChild(t *testing.T, schema string) *faulttest.Child {
	t.Helper()
	return faulttest.StartChild(t, childEnv+"=1", "PG_URL="+server(t).URL(""), "PG_SCHEMA="+schema)
}
