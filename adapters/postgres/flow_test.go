package postgres_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/receiver"
)

// TestFanoutOrderingTwoInstances runs a fan-out route with per-key
// ordering on two receivers sharing one PostgreSQL inbox and its order
// store, deliveries alternating between them. billing fails the first
// event of key 0 a few times: billing's later copies of key 0 wait for it,
// crm's do not; per handler and key, copies run one at a time in the order
// sent; each runs once.
func TestFanoutOrderingTwoInstances(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema))
	const keys, per = 3, 8

	var mu sync.Mutex
	order := map[string][]string{} // target/key → event IDs, in start order
	running := map[string]int{}
	most := map[string]int{}
	billingFails := 0
	handler := func(target string) receiver.Handler {
		return receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
			var body struct{ Customer string }
			require.NoError(t, e.Decode(&body))
			k := target + "/" + body.Customer
			mu.Lock()
			order[k] = append(order[k], e.ID)
			running[k]++
			most[k] = max(most[k], running[k])
			fail := target == "billing" && e.ID == "evt_0_0" && billingFails < 3
			if fail {
				billingFails++
			}
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			running[k]--
			mu.Unlock()
			if fail {
				return errors.New("billing down")
			}
			return nil
		})
	}
	var urls []string
	var rcs []*receiver.Receiver
	for _, name := range []string{"instance-a", "instance-b"} {
		mux := receiver.NewMux()
		mux.Fanout("payment.*", map[string]receiver.Handler{"billing": handler("billing"), "crm": handler("crm")})
		opts := append(in.Options("pgtest", postgres.Instance(name), postgres.PollInterval(20*time.Millisecond)),
			receiver.Backoff(20*time.Millisecond, 50*time.Millisecond),
			receiver.WithOrdering(receiver.Ordering{Key: flow.FieldKey("customer"), Store: in.OrderStore(), Poll: 20 * time.Millisecond}))
		rc, err := receiver.New(testProvider{}, mux, opts...)
		require.NoError(t, err)
		srv := httptest.NewServer(rc)
		t.Cleanup(func() {
			srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = rc.Shutdown(ctx)
		})
		urls = append(urls, srv.URL)
		rcs = append(rcs, rc)
	}
	n := 0
	for i := range per {
		for k := range keys {
			id := fmt.Sprintf("evt_%d_%d", k, i)
			body := []byte(fmt.Sprintf(`{"id":%q,"customer":"cus_%d"}`, id, k))
			req, err := http.NewRequest(http.MethodPost, urls[n%2], bytes.NewReader(body))
			require.NoError(t, err)
			n++
			req.Header.Set("X-Event-Id", id)
			req.Header.Set("X-Event-Type", "payment.settled")
			req.Header.Set("X-Signature", hex.EncodeToString(sign(body)))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, id)
		}
	}
	waitSettled(t, pool, schema, 30*time.Second)
	mu.Lock()
	defer mu.Unlock()
	for k := range keys {
		var want []string
		for i := range per {
			want = append(want, fmt.Sprintf("evt_%d_%d", k, i))
		}
		crm := fmt.Sprintf("crm/cus_%d", k)
		billing := fmt.Sprintf("billing/cus_%d", k)
		assert.Equal(t, want, order[crm], "crm's copies of key %d, in order, once each", k)
		wantBilling := want
		if k == 0 {
			wantBilling = append([]string{"evt_0_0", "evt_0_0", "evt_0_0"}, want...) // three failures first
		}
		assert.Equal(t, wantBilling, order[billing], "billing's copies of key %d", k)
		assert.Equal(t, 1, most[crm])
		assert.Equal(t, 1, most[billing])
	}
	assert.Equal(t, 3, billingFails)
}
