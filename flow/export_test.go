package flow

import "time"

// SetClock sets the clock of a Breaker or a Limit, for tests.
func SetClock(v any, now func() time.Time) {
	switch x := v.(type) {
	case *Breaker:
		x.now = now
	case *Limit:
		x.now = now
	}
}
