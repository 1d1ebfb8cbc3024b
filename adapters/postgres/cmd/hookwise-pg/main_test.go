package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/cmd/hookwise/dlqcmd"
	"github.com/hookwise/hookwise/internal/pgtest"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

var (
	srv    *pgtest.Server
	srvErr error
)

func TestMain(m *testing.M) {
	srv, srvErr = pgtest.New()
	code := m.Run()
	if srv != nil {
		srv.Close()
	}
	os.Exit(code)
}

// database returns the URL of the package's PostgreSQL server, or fails
// (CI=true, or installed but broken) or skips t.
func database(t testing.TB) string {
	t.Helper()
	if srvErr != nil {
		pgtest.Fail(t, srvErr)
	}
	return srv.URL("")
}

// migrated returns a pool on the server and a new schema migrated on it.
func migrated(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), database(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "dlq_" + hex.EncodeToString(b)
	require.NoError(t, postgres.Migrate(context.Background(), pool, postgres.Schema(schema)))
	return pool, schema
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &env{stdout: &out, stderr: &errb, now: time.Now, getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

// failing dead-letters the events whose ID it is told to fail, and counts
// the events it handles.
type failing struct {
	mu      sync.Mutex
	fail    map[string]bool
	handled map[string]int
}

func (f *failing) HandleEvent(_ context.Context, e *receiver.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[e.ID] {
		return receiver.Permanent(errors.New("billing service said no"))
	}
	f.handled[e.ID]++
	return nil
}

func (f *failing) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handled[id]
}

func (f *failing) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = map[string]bool{}
}

const secret = "whsec_hookwise_pg_test"

// send delivers a Stripe event signed with secret and returns the status.
func send(t *testing.T, url, id, typ string) int {
	t.Helper()
	body := fmt.Appendf(nil, `{"id":%q,"object":"event","type":%q,"api_version":"2024-06-20","created":%d,"data":{"object":{"id":"in_1","amount_paid":4200}}}`,
		id, typ, time.Now().Unix())
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	require.NoError(t, stripe.SignRequest(req, body, secret, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func eventually(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// dlq against a real PostgreSQL and a real receiver on the Inbox (endpoint
// "billing"): deliveries fail and are dead-lettered; list filters them,
// show decodes one and names its endpoint from the event history, replay
// sends one through the Inbox's queue (its dedupe mark released, handled
// once by the receiver's worker; a redelivery afterwards is a duplicate,
// stored nowhere), a dead letter whose history is gone needs -endpoint,
// purge deletes the rest.
func TestDLQAgainstPostgresAndAReceiver(t *testing.T) {
	pool, schema := migrated(t)
	ctx := context.Background()
	in := postgres.New(pool, postgres.Schema(schema))
	h := &failing{fail: map[string]bool{"evt_pg_1": true, "evt_pg_2": true}, handled: map[string]int{}}
	p, err := stripe.New(secret)
	require.NoError(t, err)
	rc, err := receiver.New(p, h, in.Options("billing")...)
	require.NoError(t, err)
	hs := httptest.NewServer(rc)
	t.Cleanup(func() {
		hs.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Shutdown(sctx)
	})
	url := hs.URL + "/webhooks/stripe"
	dbURL := database(t)

	require.Equal(t, http.StatusOK, send(t, url, "evt_pg_1", "invoice.paid"))
	require.True(t, eventually(func() bool { l, _ := in.DeadLetters().List(ctx, 0); return len(l) == 1 }))
	require.Equal(t, http.StatusOK, send(t, url, "evt_pg_2", "payment_intent.succeeded"))
	require.Equal(t, http.StatusOK, send(t, url, "evt_pg_ok", "invoice.paid"))
	require.True(t, eventually(func() bool { return h.count("evt_pg_ok") == 1 }))
	require.True(t, eventually(func() bool { l, _ := in.DeadLetters().List(ctx, 0); return len(l) == 2 }))

	base := []string{"-database", dbURL, "-schema", schema}
	dlq := func(sub string, args ...string) (int, string, string) {
		return runCmd(t, append(append([]string{"dlq", sub}, base...), args...)...)
	}

	// list: both, oldest first; filtered by type, provider and age.
	code, out, errOut := dlq("list")
	require.Equal(t, dlqcmd.ExitOK, code, errOut)
	assert.Contains(t, out, "evt_pg_1")
	assert.Contains(t, out, "evt_pg_2")
	assert.Contains(t, out, "billing service said no")
	assert.Less(t, strings.Index(out, "evt_pg_1"), strings.Index(out, "evt_pg_2"))
	code, out, _ = dlq("list", "-type", "payment_intent.*", "-json")
	require.Equal(t, dlqcmd.ExitOK, code)
	var l dlqcmd.Listed
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &l))
	assert.Equal(t, "evt_pg_2", l.ID)
	assert.Equal(t, "stripe", l.Provider)
	code, _, _ = dlq("list", "-provider", "github")
	assert.Equal(t, dlqcmd.ExitNegative, code)
	code, _, _ = dlq("list", "-older-than", "1h")
	assert.Equal(t, dlqcmd.ExitNegative, code)
	code, out, _ = dlq("list", "-newer-than", "1h", "-limit", "1")
	assert.Equal(t, dlqcmd.ExitOK, code)
	assert.Equal(t, 2, strings.Count(out, "\n"), out) // the heading and one

	// show: the endpoint from the history, the payload decoded, the
	// signature redacted.
	code, out, _ = dlq("show", "evt_pg_1")
	require.Equal(t, dlqcmd.ExitOK, code)
	assert.Contains(t, out, "endpoint:    billing")
	assert.Contains(t, out, "reason:      billing service said no")
	assert.Contains(t, out, `"amount_paid": 4200`)
	assert.Contains(t, out, "Stripe-Signature: [redacted]")
	assert.NotContains(t, out, "v1=")

	// replay: handled once by the receiver through the Inbox's queue.
	h.heal()
	code, out, errOut = dlq("replay", "evt_pg_1")
	require.Equal(t, dlqcmd.ExitOK, code, errOut)
	assert.Contains(t, out, "replayed stripe evt_pg_1 invoice.paid (endpoint billing)")
	assert.True(t, eventually(func() bool { return h.count("evt_pg_1") == 1 }), "the receiver handled the replayed event")
	left, err := in.DeadLetters().List(ctx, 0)
	require.NoError(t, err)
	require.Len(t, left, 1)
	assert.Equal(t, "evt_pg_2", left[0].Event.ID)
	// The replayed event is done again: a redelivery is a duplicate,
	// acknowledged without being stored.
	require.True(t, eventually(func() bool {
		recs, _ := in.Find(ctx, postgres.Filter{Provider: "stripe", ID: "evt_pg_1", State: postgres.StateDone})
		return len(recs) == 1
	}))
	require.Equal(t, http.StatusOK, send(t, url, "evt_pg_1", "invoice.paid"))
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	require.NoError(t, rc.Drain(dctx))
	cancel()
	recs, err := in.Find(ctx, postgres.Filter{Provider: "stripe", ID: "evt_pg_1"})
	require.NoError(t, err)
	assert.Len(t, recs, 2, "the dead delivery and the replay; the redelivery stored nothing")
	assert.Equal(t, 1, h.count("evt_pg_1"), "not handled twice")

	// A dead letter whose event history is gone: replay needs -endpoint.
	orphan := &receiver.Event{Provider: "stripe", ID: "evt_pg_orphan", Type: "invoice.paid", Attempt: 5,
		ReceivedAt: time.Now().Add(-30 * 24 * time.Hour), ClaimToken: "tok_orphan",
		Body: []byte(`{"id":"evt_pg_orphan","object":"event","type":"invoice.paid","data":{"object":{}}}`)}
	require.NoError(t, in.DeadLetters().Put(ctx, receiver.DeadLetter{Event: orphan, Reason: "timeout", FailedAt: time.Now().Add(-29 * 24 * time.Hour)}))
	code, out, errOut = dlq("replay", "evt_pg_orphan")
	assert.Equal(t, dlqcmd.ExitIO, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "hookwise-pg: replay stripe evt_pg_orphan:")
	assert.Contains(t, errOut, "-endpoint")
	code, out, _ = dlq("show", "evt_pg_orphan")
	require.Equal(t, dlqcmd.ExitOK, code)
	assert.NotContains(t, out, "endpoint:")
	code, out, errOut = dlq("replay", "-endpoint", "billing", "evt_pg_orphan")
	require.Equal(t, dlqcmd.ExitOK, code, errOut)
	assert.Contains(t, out, "replayed stripe evt_pg_orphan invoice.paid (endpoint billing)")
	assert.True(t, eventually(func() bool { return h.count("evt_pg_orphan") == 1 }))

	// purge needs IDs or -all-matching; then deletes.
	code, _, _ = dlq("purge")
	assert.Equal(t, dlqcmd.ExitUsage, code)
	code, out, _ = dlq("purge", "-all-matching", "-provider", "stripe")
	require.Equal(t, dlqcmd.ExitOK, code)
	assert.Contains(t, out, "purged stripe evt_pg_2 payment_intent.succeeded")
	code, _, _ = dlq("list")
	assert.Equal(t, dlqcmd.ExitNegative, code)
	assert.Zero(t, h.count("evt_pg_2"))
}

// Replayed events reach the receivers of their endpoint only, each once,
// with -all-matching over two endpoints of one schema.
func TestReplayAllMatchingAcrossEndpoints(t *testing.T) {
	pool, schema := migrated(t)
	ctx := context.Background()
	in := postgres.New(pool, postgres.Schema(schema))
	hA := &failing{fail: map[string]bool{"evt_a": true}, handled: map[string]int{}}
	hB := &failing{fail: map[string]bool{"evt_b": true}, handled: map[string]int{}}
	var urls []string
	for ep, h := range map[string]*failing{"shop-a": hA, "shop-b": hB} {
		p, err := stripe.New(secret)
		require.NoError(t, err)
		rc, err := receiver.New(p, h, in.Options(ep)...)
		require.NoError(t, err)
		hs := httptest.NewServer(rc)
		t.Cleanup(func() {
			hs.Close()
			_ = rc.Shutdown(context.Background())
		})
		if ep == "shop-a" {
			urls = append([]string{hs.URL}, urls...)
		} else {
			urls = append(urls, hs.URL)
		}
	}
	require.Equal(t, http.StatusOK, send(t, urls[0], "evt_a", "invoice.paid"))
	require.Equal(t, http.StatusOK, send(t, urls[1], "evt_b", "invoice.paid"))
	require.True(t, eventually(func() bool { l, _ := in.DeadLetters().List(ctx, 0); return len(l) == 2 }))
	hA.heal()
	hB.heal()
	code, out, errOut := runCmd(t, "dlq", "replay", "-database", database(t), "-schema", schema, "-all-matching")
	require.Equal(t, dlqcmd.ExitOK, code, errOut)
	assert.Contains(t, out, "replayed stripe evt_a invoice.paid (endpoint shop-a)")
	assert.Contains(t, out, "replayed stripe evt_b invoice.paid (endpoint shop-b)")
	assert.True(t, eventually(func() bool { return hA.count("evt_a") == 1 && hB.count("evt_b") == 1 }))
	assert.Zero(t, hA.count("evt_b"))
	assert.Zero(t, hB.count("evt_a"))
}

func TestErrors(t *testing.T) {
	code, _, _ := runCmd(t)
	assert.Equal(t, dlqcmd.ExitUsage, code)
	code, _, _ = runCmd(t, "nope")
	assert.Equal(t, dlqcmd.ExitUsage, code)
	code, out, _ := runCmd(t, "-h")
	assert.Equal(t, dlqcmd.ExitOK, code)
	assert.Contains(t, out, "hookwise-pg dlq")
	code, _, _ = runCmd(t, "dlq")
	assert.Equal(t, dlqcmd.ExitUsage, code)
	code, _, errOut := runCmd(t, "dlq", "list")
	assert.Equal(t, dlqcmd.ExitUsage, code)
	assert.Contains(t, errOut, "DATABASE_URL")
	code, _, errOut = runCmd(t, "dlq", "list", "-database", "postgres://u:s3cret@127.0.0.1:notaport/db")
	assert.Equal(t, dlqcmd.ExitUsage, code)
	assert.NotContains(t, errOut, "s3cret")
	code, _, _ = runCmd(t, "dlq", "list", "-database", "postgres://127.0.0.1/db", "-schema", "1bad")
	assert.Equal(t, dlqcmd.ExitUsage, code)
	code, _, _ = runCmd(t, "dlq", "list", "-database", "postgres://127.0.0.1/db", "-older-than", "soon")
	assert.Equal(t, dlqcmd.ExitUsage, code)

	// PostgreSQL unreachable: exit 3, the password not printed.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := lis.Addr().(*net.TCPAddr).Port
	require.NoError(t, lis.Close())
	code, _, errOut = runCmd(t, "dlq", "list", "-database", "postgres://u:s3cret@127.0.0.1:"+strconv.Itoa(port)+"/db?connect_timeout=2")
	assert.Equal(t, dlqcmd.ExitIO, code)
	assert.Contains(t, errOut, "unreachable")
	assert.NotContains(t, errOut, "s3cret")

	// A schema that is not migrated: exit 3, said so.
	code, _, errOut = runCmd(t, "dlq", "list", "-database", database(t), "-schema", "no_such_schema")
	assert.Equal(t, dlqcmd.ExitIO, code)
	assert.Contains(t, errOut, "no dead_letters table in schema no_such_schema")
}

// $DATABASE_URL is the default of -database, read after parsing: -h never
// prints it.
func TestDatabaseURLFromEnvironment(t *testing.T) {
	_, schema := migrated(t)
	url := database(t)
	runEnv := func(dbURL string, args ...string) (int, string) {
		var out bytes.Buffer
		code := run(context.Background(), args, &env{stdout: &out, stderr: &out, now: time.Now,
			getenv: func(k string) string {
				if k == "DATABASE_URL" {
					return dbURL
				}
				return ""
			}})
		return code, out.String()
	}
	code, out := runEnv(url, "dlq", "list", "-schema", schema)
	assert.Equal(t, dlqcmd.ExitNegative, code, out) // reached the empty store
	assert.Contains(t, out, "no dead letter matches")
	code, out = runEnv("postgres://u:s3cret@127.0.0.1:5432/db", "dlq", "list", "-h")
	assert.Equal(t, dlqcmd.ExitOK, code)
	assert.Contains(t, out, "-database")
	assert.NotContains(t, out, "s3cret")
}

// A fan-out copy's dead letter is listed under its own key (~target~ID)
// and replayed, with its target, to the endpoint of that copy's history:
// the original event's rows, in another endpoint, do not count.
func TestFanoutCopyReplayedToItsEndpoint(t *testing.T) {
	pool, schema := migrated(t)
	ctx := context.Background()
	in := postgres.New(pool, postgres.Schema(schema))
	store := func(ep, target, token string) {
		q := in.Queue(postgres.Endpoint(ep), postgres.PollOnly())
		require.NoError(t, q.Enqueue(ctx, &receiver.Event{Provider: "stripe", ID: "evt_fan", Type: "invoice.paid",
			Body: []byte(`{}`), ClaimToken: token, Target: target}))
		_, err := pool.Exec(ctx, `UPDATE `+schema+`.events SET state = 'dead', finished_at = now() WHERE claim_token = $1`, token)
		require.NoError(t, err)
	}
	store("shop-c", "crm", "tok_copy")  // the copy's dead row, older
	store("shop-x", "", "tok_original") // the original's, in another endpoint, newer
	copyEv := &receiver.Event{Provider: "stripe", ID: "evt_fan", Type: "invoice.paid", Attempt: 3, ClaimToken: "tok_gone",
		Body: []byte(`{}`), Target: "crm"} // its delivery's row is gone: located by target
	require.NoError(t, in.DeadLetters().Put(ctx, receiver.DeadLetter{Event: copyEv, Reason: "crm down", FailedAt: time.Now()}))

	base := []string{"-database", database(t), "-schema", schema}
	code, out, errOut := runCmd(t, append([]string{"dlq", "list"}, base...)...)
	require.Equal(t, dlqcmd.ExitOK, code, errOut)
	assert.Contains(t, out, "~crm~evt_fan")
	code, out, errOut = runCmd(t, append([]string{"dlq", "replay"}, append(base, "~crm~evt_fan")...)...)
	require.Equal(t, dlqcmd.ExitOK, code, errOut)
	assert.Contains(t, out, "replayed stripe ~crm~evt_fan invoice.paid (endpoint shop-c)")
	recs, err := in.Find(ctx, postgres.Filter{ID: "evt_fan", State: postgres.StateQueued})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "crm", recs[0].Event.Target)
	assert.Equal(t, "shop-c", recs[0].Endpoint)
}
