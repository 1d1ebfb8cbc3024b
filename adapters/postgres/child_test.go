package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
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
	r, err := receiver.New(testProvider{}, effectsHandler(schema), in.Options("pgtest")...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ADDR", ln.Addr().String())
	_ = http.Serve(ln, r)
	return 0
}

// child is a receiver process.
type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, schema string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1", "PG_URL="+server(t).URL(""), "PG_SCHEMA="+schema)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd}
	t.Cleanup(c.kill)
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if a, ok := strings.CutPrefix(s.Text(), "ADDR "); ok {
				lines <- a
			}
		}
	}()
	select {
	case c.addr = <-lines:
	case <-time.After(20 * time.Second):
		t.Fatal("child receiver did not start")
	}
	return c
}

// kill sends SIGKILL and reaps the process.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}
