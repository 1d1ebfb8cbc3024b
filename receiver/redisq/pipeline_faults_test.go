package redisq

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/faultproxy"
	"github.com/hookwise/hookwise/internal/faulttest"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
)

// The whole pipeline (receiver, Redis dedupe store, Redis queue and dead
// letters) over a real HTTP server, with go-redis talking to a real
// redis-server through a fault proxy that cuts connections after a command
// was applied, holds replies past the call timeout, drops them, or loses
// Redis altogether. A sender delivers each event and retries every non-2xx
// answer, as providers do. Every scenario counts deliveries sent (attempts
// included), acknowledged, handled, handled twice and lost; docs/reliability.md
// records the counts (go test -v -run TestPipelineFault ./receiver/redisq/).

// headerProvider takes the event ID and type from headers and accepts every
// request: these tests are about what happens after verification.
type headerProvider struct{}

func (headerProvider) Name() string                       { return "fp" }
func (headerProvider) Verify(*http.Request, []byte) error { return nil }
func (headerProvider) Parse(r *http.Request, _ []byte) (receiver.Envelope, error) {
	return receiver.Envelope{ID: r.Header.Get("X-Id"), Type: "t"}, nil
}

// pipeline is a receiver on Redis through a fault proxy, with its counts.
type pipeline struct {
	t      *testing.T
	srv    *redistest.Server
	proxy  *faultproxy.Proxy
	url    string
	rdb    *redis.Client // through the proxy
	direct *redis.Client // to Redis, for checks

	delay atomic.Int64 // how long the handler takes, in nanoseconds

	// claim and enqueue match the scripts that claim an event's key and
	// add its entry: one script (enqueueClaimScript) when the queue claims.
	claim, enqueue faultproxy.Matcher

	mu      sync.Mutex
	handled map[string]int

	*faulttest.Sender // deliveries, retries included, and their answers
}

const pfCallTimeout = 300 * time.Millisecond

// storeOnly is a dedupe store on Redis that a queue does not recognise
// (see Queue.ClaimFor): the receiver claims keys itself, on the request
// path, in a round trip of its own, as it does on Redis Cluster.
type storeOnly struct{ *dedupe.Redis }

// claimModes are the two ways the request path claims an event's key.
var claimModes = []struct {
	name        string
	queueClaims bool
}{{"queue claims", true}, {"store claims", false}}

// newPipeline starts a pipeline; with queueClaims the queue claims keys in
// its enqueue script, else the receiver claims them in the store.
func newPipeline(t *testing.T, queueClaims bool) *pipeline {
	t.Helper()
	srv := redistest.Start(t)
	p := &pipeline{t: t, srv: srv, proxy: faultproxy.New(t, srv.Addr), handled: map[string]int{}}
	p.Sender = faulttest.NewSender(t, 100, 50*time.Millisecond, func(id string) int { return pfSend(p.url, id) })
	p.rdb = redis.NewClient(&redis.Options{Addr: p.proxy.Addr(), ContextTimeoutEnabled: true,
		DialTimeout: 200 * time.Millisecond, MinRetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond})
	p.direct = newClient(t, srv.Addr)
	stream := "hookwise:{" + strings.ReplaceAll(t.Name(), "/", "_") + "}:stream"
	var store dedupe.Store = dedupe.NewRedis(p.rdb, dedupe.WithRedisTimeout(pfCallTimeout))
	p.claim, p.enqueue = faultproxy.Script(enqueueClaimScript.Hash()), faultproxy.Script(enqueueClaimScript.Hash())
	if !queueClaims {
		store = storeOnly{store.(*dedupe.Redis)}
		p.claim, p.enqueue = dedupeScript(2), faultproxy.Script(enqueueScript.Hash())
	}
	q := New(p.rdb, Stream(stream), CallTimeout(pfCallTimeout), PollInterval(20*time.Millisecond),
		VisibilityTimeout(2*time.Second), Workers(4))
	rc, err := receiver.New(headerProvider{}, receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		time.Sleep(time.Duration(p.delay.Load()))
		p.mu.Lock()
		p.handled[e.ID]++
		p.mu.Unlock()
		return nil
	}),
		receiver.WithStore(store),
		receiver.WithQueue(q),
		receiver.WithDeadLetters(NewDeadLetters(p.rdb, Stream(stream), CallTimeout(pfCallTimeout))),
		receiver.StoreTimeout(pfCallTimeout),
		receiver.WithAdmissionLease(time.Second))
	require.NoError(t, err)
	require.Equal(t, queueClaims, q.claimKey != nil, "the queue claims keys")
	hs := httptest.NewServer(rc)
	p.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
		_ = p.rdb.Close()
	})
	return p
}

// pfSend delivers event id to url once and returns the answer's status, or
// 0 when there was none.
func pfSend(url, id string) int {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	req.Header.Set("X-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// settle waits until every acknowledged event was handled, then a little
// longer to catch a second handling, and reports the counts.
func (p *pipeline) settle(ids []string) (acked, handled, twice, lost int) {
	p.t.Helper()
	all := func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, id := range ids {
			if p.Acked(id) && p.handled[id] == 0 {
				return false
			}
		}
		return true
	}
	assert.Eventually(p.t, all, 20*time.Second, 10*time.Millisecond, "every acknowledged event handled")
	time.Sleep(2500 * time.Millisecond) // past the visibility timeout: a lost acknowledgement would show
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Tally(ids, p.handled)
}

// dedupeScript matches the dedupe store's scripts; args is the count of
// arguments after the key (claim, confirm and complete take two, release
// one).
func dedupeScript(args int) faultproxy.Matcher {
	return func(cmd []string) bool {
		return cmd[0] == "EVALSHA" && len(cmd) == 4+args && strings.HasPrefix(cmd[3], dedupe.DefaultRedisPrefix)
	}
}

func TestPipelineFault(t *testing.T) {
	scenarios := []struct {
		name      string
		queueOnly bool // only when the queue claims (and confirms ahead)
		// arm sets the fault up before the first delivery.
		arm func(p *pipeline)
		// check asserts that the fault fired as meant.
		check func(t *testing.T, p *pipeline)
	}{
		{
			// The claim (when the queue claims, the script that claims and
			// adds the entry) is applied, the connection is cut before its
			// reply; go-redis re-sends it, and the re-run of this delivery's
			// own claim must answer "claimed", not "duplicate".
			name: "claim applied, connection cut before the reply",
			arm: func(p *pipeline) {
				p.proxy.CutAfterApply(p.claim, 1)
			},
		},
		{
			// The claim (the claiming enqueue) is applied but answered after
			// the timeout: the
			// delivery gets 503, and the sender's retry must be processed
			// (within the admission lease it is answered 503 again), not
			// acknowledged as a duplicate of nothing.
			name: "claim applied, reply held past the timeout",
			arm: func(p *pipeline) {
				p.proxy.HoldReply(p.claim, 2*pfCallTimeout, 1)
			},
		},
		{
			// The enqueue is applied but answered after the call timeout (503),
			// and the release that follows is applied but its reply cut. The
			// sender's retry comes before the stored copy is handled (the
			// handler takes 1 s) and is queued too: of the two copies, the
			// worker runs one and skips the other.
			name: "enqueue applied but timed out, release applied, retry queued",
			arm: func(p *pipeline) {
				p.delay.Store(int64(time.Second))
				enq := p.proxy.HoldReply(p.enqueue, 2*pfCallTimeout, 1)
				go func() {
					<-enq.Done()
					p.proxy.CutAfterApply(dedupeScript(1), 1)
				}()
			},
		},
		{
			// The reply to the enqueue is dropped (the connection stalls until
			// the client gives up); go-redis re-sends it on a new connection.
			// The stream must hold the event once.
			name: "enqueue reply dropped and re-sent",
			arm: func(p *pipeline) {
				p.proxy.DropReply(p.enqueue, 1)
			},
		},
		{
			// The reader's confirmation of the claims of the entries it read
			// is applied, its reply cut: the attempts do not know, confirm
			// their own claims (held by their tokens already) and run once.
			name:      "claims confirmed ahead, connection cut before the reply",
			queueOnly: true,
			arm: func(p *pipeline) {
				p.proxy.CutAfterApply(faultproxy.Script(confirmAheadScript.Hash()), 1)
			},
		},
		{
			// The reply to a worker's acknowledgement is cut: the entry stays
			// pending, is reclaimed after the visibility timeout, and must not
			// be handled again (its key is done).
			name: "acknowledgement applied, connection cut before the reply",
			arm: func(p *pipeline) {
				p.proxy.CutAfterApply(faultproxy.Script(ackScript.Hash()), 1)
			},
		},
	}
	for _, mode := range claimModes {
		for _, sc := range scenarios {
			if sc.queueOnly && !mode.queueClaims {
				continue
			}
			t.Run(mode.name+"/"+sc.name, func(t *testing.T) {
				p := newPipeline(t, mode.queueClaims)
				sc.arm(p)
				ids := []string{"evt_1", "evt_2", "evt_3"}
				for _, id := range ids {
					p.Deliver(id)
				}
				acked, handled, twice, lost := p.settle(ids)
				assert.Equal(t, len(ids), acked, "acknowledged")
				assert.Equal(t, len(ids), handled, "handled")
				assert.Zero(t, twice, "handled twice")
				assert.Zero(t, lost, "lost")
				st := p.proxy.Stats()
				for _, r := range st.Rules {
					assert.Positive(t, r.Fired, "fault %s fired", r.Kind)
				}
			})
		}
	}
}

// Redis is killed (SIGKILL) and restarted mid-load, twice, while events are
// delivered concurrently and the handler takes a while: every acknowledged
// event is handled exactly once.
func TestPipelineFaultRedisRestartMidLoad(t *testing.T) {
	p := newPipeline(t, true)
	p.delay.Store(int64(5 * time.Millisecond))
	const n = 300
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("evt_%03d", i)
	}
	var outages sync.WaitGroup
	outages.Go(func() {
		for range 2 {
			time.Sleep(300 * time.Millisecond)
			p.srv.Stop()
			time.Sleep(500 * time.Millisecond)
			p.srv.Restart(t)
		}
	})
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p.Deliver(id)
		})
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	outages.Wait()
	acked, handled, twice, lost := p.settle(ids)
	assert.Equal(t, n, acked, "acknowledged")
	assert.Equal(t, n, handled, "handled")
	assert.Zero(t, twice, "handled twice")
	assert.Zero(t, lost, "lost")
	assert.Positive(t, p.Refused.Load(), "some deliveries were refused while Redis was down")
}
