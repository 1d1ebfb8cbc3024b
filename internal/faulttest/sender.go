package faulttest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Sender delivers events as providers do: each until it is acknowledged,
// retrying every non-2xx answer (or none) after a pause, within a bound of
// tries. Its counts feed Tally.
type Sender struct {
	t     testing.TB
	send  func(id string) int
	tries int
	pause time.Duration

	Sent    atomic.Int64 // HTTP requests, retries included
	Refused atomic.Int64 // non-2xx answers (or no answer)
	acked   sync.Map     // id → true
}

// NewSender returns a sender whose one delivery of event id is send(id),
// the answer's status (0 when there was none).
func NewSender(t testing.TB, tries int, pause time.Duration, send func(id string) int) *Sender {
	return &Sender{t: t, send: send, tries: tries, pause: pause}
}

// Deliver sends event id until it is acknowledged; when the tries run out
// the test fails.
func (s *Sender) Deliver(id string) {
	for try := 0; try < s.tries; try++ {
		s.Sent.Add(1)
		if status := s.send(id); status/100 == 2 {
			s.acked.Store(id, true)
			return
		}
		s.Refused.Add(1)
		time.Sleep(s.pause)
	}
	s.t.Errorf("%s never acknowledged", id)
}

// Acked reports whether event id was acknowledged.
func (s *Sender) Acked(id string) bool {
	_, ok := s.acked.Load(id)
	return ok
}

// AckedCount returns how many events were acknowledged.
func (s *Sender) AckedCount() int {
	n := 0
	s.acked.Range(func(any, any) bool { n++; return true })
	return n
}

// Tally counts, of ids, the events acknowledged, handled (handled[id] > 0),
// handled twice (more than once) and lost (acknowledged, not handled), and
// logs them with the deliveries sent and retried.
func (s *Sender) Tally(ids []string, handled map[string]int) (acked, handledN, twice, lost int) {
	s.t.Helper()
	for _, id := range ids {
		ok := s.Acked(id)
		if ok {
			acked++
		}
		switch n := handled[id]; {
		case n > 1:
			twice++
			handledN++
		case n == 1:
			handledN++
		case ok:
			lost++
		}
	}
	s.t.Logf("counts: events %d, deliveries sent %d (non-2xx answers retried: %d), acknowledged %d, handled %d, handled twice %d, lost %d",
		len(ids), s.Sent.Load(), s.Refused.Load(), acked, handledN, twice, lost)
	return acked, handledN, twice, lost
}
