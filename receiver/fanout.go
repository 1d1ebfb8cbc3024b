package receiver

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver/driver"
)

// splits remembers, per event being split, the targets whose copies are
// queued already, so that a split retried after a failed enqueue does not
// queue a copy twice. A split retried elsewhere (another replica, or after a
// crash) queues the copies again: each copy has a claim token of its own,
// and the copy that runs first takes the copy's dedupe key, so the other is
// acknowledged as a duplicate (events without IDs have no key: their copies
// may then run twice, as any event without an ID may).
type splits struct {
	mu   sync.Mutex
	done map[string]map[string]bool // by the event's claim token
}

func (s *splits) queued(token, target string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done[token][target]
}

// maxSplits bounds the events splits remembers: an entry is forgotten when
// its split finishes here, but not when another replica finishes it (after
// this one failed to queue a copy). Past the bound it starts afresh:
// forgetting only makes a retried split queue copies again, which their
// dedupe keys keep from running twice.
const maxSplits = 10_000

func (s *splits) mark(token, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil || len(s.done) >= maxSplits && s.done[token] == nil {
		s.done = map[string]map[string]bool{}
	}
	if s.done[token] == nil {
		s.done[token] = map[string]bool{}
	}
	s.done[token][target] = true
}

func (s *splits) forget(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.done, token)
}

// fanoutTargets returns the targets e is split into: those of its route when
// e is an event as delivered and the handler has fan-out routes, else nil.
func (r *Receiver) fanoutTargets(e *Event) []string {
	if e.Target != "" || r.fan == nil {
		return nil
	}
	return r.fan.Targets(e.Type)
}

// split queues one copy of e per target, each with Target set, attempt 1
// and a claim token of its own (each copy joins its own ordering line when
// e is ordered), then marks e done. When a copy cannot be queued, e is run
// again later, its attempt not used up, and the copies already queued are
// not queued again.
func (r *Receiver) split(ctx context.Context, e *Event, targets []string, wait time.Duration) driver.Result {
	// An event without a claim token (queued before tokens, or by a tool
	// that sets none) has no key in splits: its split, retried, queues
	// every copy again, rather than share marks with other such events.
	memo := e.ClaimToken != ""
	key := r.orderingKey(ctx, e) // each copy joins its own line: key and target
	for _, t := range targets {
		if memo && r.splits.queued(e.ClaimToken, t) {
			continue
		}
		c := *e
		c.Target, c.Attempt, c.ClaimToken = t, 1, dedupe.NewToken()
		line := r.lineKey(key, t)
		err := r.joinLine(ctx, line, &c)
		if err == nil {
			err = r.cfg.queue.Enqueue(context.WithoutCancel(ctx), &c)
			if err != nil {
				// Not queued under this token: out of the line it joined. A
				// duplicate is a copy an earlier split queued, in line under
				// its own token.
				r.leaveLine(ctx, line, &c)
			}
			if errors.Is(err, driver.ErrDuplicate) {
				err = nil
			}
		}
		if err != nil {
			d := &DeferredError{After: r.cfg.backoffBase, Reason: ReasonSplit}
			r.logEvent(ctx, slog.LevelWarn, "could not queue a fan-out copy; event deferred", e, slog.String("target", t), slog.Any("error", err))
			return r.deferred(ctx, e, d, 0, wait)
		}
		if memo {
			r.splits.mark(e.ClaimToken, t)
		}
	}
	r.splits.forget(e.ClaimToken)
	r.complete(ctx, e)
	r.observe(ctx, Observation{Stage: StageSplit, Event: e, QueueWait: wait})
	r.logEvent(ctx, slog.LevelDebug, "event split into fan-out copies", e, slog.Int("copies", len(targets)))
	return driver.Result{}
}
