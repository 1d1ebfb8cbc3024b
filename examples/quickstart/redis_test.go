package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/providers/github"
)

// These tests run the quickstart binary against a real redis-server started
// on a free loopback port (see internal/redistest): several replicas, a
// crash, and Redis going away mid-load.

func redisURL(s *redistest.Server) string { return "redis://" + s.Addr + "/0" }

// collect reads lines until want distinct IDs were seen or timeout passes,
// then keeps reading for settle to catch duplicates. It returns the count of
// lines per ID.
func collect(t *testing.T, procs []*proc, want int, timeout, settle time.Duration) map[string]int {
	t.Helper()
	seen := map[string]int{}
	merged := make(chan line, 10000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() {
			for {
				select {
				case l := <-p.lines:
					merged <- l
				case <-stop:
					return
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	deadline := time.After(timeout)
	for len(seen) < want {
		select {
		case l := <-merged:
			seen[l.ID]++
		case <-deadline:
			t.Fatalf("saw %d of %d events within %s", len(seen), want, timeout)
		}
	}
	quiet := time.After(settle)
	for {
		select {
		case l := <-merged:
			seen[l.ID]++
		case <-quiet:
			return seen
		}
	}
}

func TestRedisReplicasHandleEachEventOnce(t *testing.T) {
	srv := redistest.Start(t)
	n, pending, handled, lost := replicasHandleEachOnce(t, "REDIS_URL="+redisURL(srv), "evt_rep_")
	t.Logf("counts: events %d, deliveries sent %d (3 concurrent copies each, over 2 replicas), answered 503 while another copy was being accepted %d (then retried), acknowledged %d, handled %d, lost %d",
		n, 3*n, pending, 3*n, handled, lost)
}

// replicasHandleEachOnce starts two quickstarts sharing the backend env
// names, sends each of 100 events three times at once over both (a copy
// answered 503 while another is being accepted is sent again, as senders
// do), and checks each event is handled once. It returns the events, the
// 503s, the events handled and the events lost.
func replicasHandleEachOnce(t *testing.T, env, prefix string) (n int, pending int64, handled, lost int) {
	t.Helper()
	a, b := freeAddr(t), freeAddr(t)
	p1 := start(t, a, env)
	p2 := start(t, b, env)
	defer p1.stop()
	defer p2.stop()
	n = 100
	var wg sync.WaitGroup
	var retried atomic.Int64
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		for _, addr := range []string{a, b, a} { // concurrent copies to both replicas
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				for try := 0; ; try++ {
					code := deliver(t, addr, "stripe", id, "invoice.paid", "", false)
					if code == 200 {
						return
					}
					if code != 503 || try == 50 {
						t.Errorf("%s to %s: status %d after %d tries", id, addr, code, try+1)
						return
					}
					retried.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
	}
	wg.Wait()
	seen := collect(t, []*proc{p1, p2}, n, 60*time.Second, time.Second)
	for id, c := range seen {
		handled += c
		if c != 1 {
			t.Errorf("%s handled %d times, want once", id, c)
		}
	}
	return n, retried.Load(), handled, n - len(seen)
}

func TestRedisCrashLosesNothingAcknowledged(t *testing.T) {
	srv := redistest.Start(t)
	addr := freeAddr(t)
	env := []string{"REDIS_URL=" + redisURL(srv), "HANDLER_DELAY=100ms"}
	p := start(t, addr, env...)
	const n = 60
	for i := 0; i < n; i++ {
		if code := deliver(t, addr, "github", fmt.Sprintf("crash-%d", i), "push", pushBody(fmt.Sprintf("crash-%d", i)), false); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	p.kill() // SIGKILL, right after acknowledging: most events are not handled yet
	before := map[string]int{}
	for len(p.lines) > 0 {
		before[(<-p.lines).ID]++
	}
	if len(before) == n {
		t.Logf("all %d events were handled before the kill; the crash test proves less than intended", n)
	}
	p2 := start(t, addr, env...) // same address, so the same consumer name
	after := collect(t, []*proc{p2}, n-len(before), 90*time.Second, time.Second)
	lost, twice := 0, 0
	for i := 0; i < n; i++ {
		id := github.EventID([]byte(pushBody(fmt.Sprintf("crash-%d", i)))) // GitHub events are keyed by their body's hash
		switch before[id] + after[id] {
		case 0:
			lost++
			t.Errorf("%s was acknowledged and never handled", id)
		case 1:
		default:
			twice++ // cut off mid-handler by the kill: at-least-once
		}
	}
	t.Logf("counts: sent %d, acknowledged %d, handled before SIGKILL %d, handled after restart %d, handled twice %d, lost %d",
		n, n, len(before), len(after), twice, lost)
	// A redelivery of an event already handled is not handled again.
	for i := 0; i < 5; i++ {
		if code := deliver(t, addr, "github", fmt.Sprintf("crash-%d", i), "push", pushBody(fmt.Sprintf("crash-%d", i)), false); code != 200 {
			t.Errorf("redelivery: status %d", code)
		}
	}
	p2.quiet(time.Second)
	p2.stop()
}

func TestRedisOutageAnswers503AndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	addr := freeAddr(t)
	p := start(t, addr, "REDIS_URL="+redisURL(srv))
	acked := map[string]bool{}
	sent, refused := 0, 0
	send := func(id string) int {
		code := deliver(t, addr, "standard", id, "user.created", "", false)
		sent++
		switch code {
		case 200:
			acked[id] = true
		case 503:
			refused++
		}
		return code
	}
	for i := 0; i < 20; i++ {
		if code := send(fmt.Sprint("msg_before_", i)); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	srv.Stop()
	for i := 0; i < 10; i++ {
		if code := send(fmt.Sprint("msg_down_", i)); code != 503 {
			t.Errorf("with Redis down: status %d, want 503", code)
		}
	}
	srv.Restart(t)
	// Reconnection needs no restart of the receiver; allow it a few seconds.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 20; {
		id := fmt.Sprint("msg_after_", i)
		code := send(id)
		if code == 200 {
			i++
			continue
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("after Redis restart: status %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	seen := collect(t, []*proc{p}, len(acked), 60*time.Second, time.Second)
	for id := range acked {
		if seen[id] == 0 {
			t.Errorf("%s acknowledged and never handled", id)
		}
	}
	lost := 0
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	for id, c := range seen {
		if !acked[id] {
			t.Errorf("%s handled but never acknowledged", id)
		}
		if c != 1 {
			t.Errorf("%s handled %d times", id, c)
		}
	}
	t.Logf("counts: sent %d, acknowledged %d, refused with 503 %d, handled %d, lost %d", sent, len(acked), refused, len(seen), lost)
	p.stop()
}
