package postgres_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// A receiver on PostgreSQL whose handler writes in the transaction that
// marks its event done: a redelivery is acknowledged and not run again, and
// the write commits once.
func ExampleTxHandler() {
	ctx := context.Background()
	if srv == nil { // the example needs the PostgreSQL server the tests start
		fmt.Println("PostgreSQL did not start:", srvErr)
		return
	}
	pool, err := pgxpool.New(ctx, srv.URL("")) // os.Getenv("DATABASE_URL") in production
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, postgres.Schema("example")); err != nil {
		panic(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS example.payments (event_id text PRIMARY KEY, amount int)`); err != nil {
		panic(err)
	}
	in := postgres.New(pool, postgres.Schema("example"), postgres.PollInterval(20*time.Millisecond))
	mux := receiver.NewMux()
	mux.Handle("payment.settled", postgres.TxHandler(func(ctx context.Context, tx pgx.Tx, e *driver.Event) error {
		var p struct{ Amount int }
		if err := e.Decode(&p); err != nil {
			return receiver.Permanent(err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO example.payments (event_id, amount) VALUES ($1, $2)`, e.ID, p.Amount)
		return err
	}))
	rcv, err := receiver.New(testProvider{}, mux, in.Options("pgtest")...)
	if err != nil {
		panic(err)
	}
	web := httptest.NewServer(rcv)
	defer web.Close()
	defer rcv.Shutdown(ctx)

	fmt.Println(deliver(http.DefaultClient, web.URL, "evt_42"))
	fmt.Println(deliver(http.DefaultClient, web.URL, "evt_42")) // a redelivery
	for {
		recs, err := in.Find(ctx, postgres.Filter{ID: "evt_42", State: postgres.StateDone})
		if err != nil {
			panic(err)
		}
		if len(recs) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var n, amount int
	if err := pool.QueryRow(ctx, `SELECT count(*), sum(amount) FROM example.payments`).Scan(&n, &amount); err != nil {
		panic(err)
	}
	fmt.Println(n, "payment of", amount)
	// Output:
	// 200
	// 200
	// 1 payment of 42
}

// Ordering lines shared by replicas: events of one key run one at a time,
// in the order they joined; Turn answers false until the earlier ones left.
func ExampleOrderStore() {
	ctx := context.Background()
	if srv == nil { // the example needs the PostgreSQL server the tests start
		fmt.Println("PostgreSQL did not start:", srvErr)
		return
	}
	pool, err := pgxpool.New(ctx, srv.URL("")) // os.Getenv("DATABASE_URL") in production
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, postgres.Schema("example_order")); err != nil {
		panic(err)
	}
	lines := postgres.New(pool, postgres.Schema("example_order")).OrderStore() // for the receiver's ordering option
	key := "5f0c6a3b2e1d4c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b"  // the receiver passes a hash of the ordering key
	for _, token := range []string{"first", "second"} {
		if err := lines.Join(ctx, key, token, 5*time.Minute); err != nil {
			panic(err)
		}
	}
	turn := func(token string) bool {
		ok, err := lines.Turn(ctx, key, token, 5*time.Minute)
		if err != nil {
			panic(err)
		}
		return ok
	}
	fmt.Println(turn("second"), turn("first"))
	if err := lines.Leave(ctx, key, "first"); err != nil {
		panic(err)
	}
	fmt.Println(turn("second"))
	_ = lines.Leave(ctx, key, "second")
	// Output:
	// false true
	// true
}
