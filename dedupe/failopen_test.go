package dedupe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/dedupe/dedupetest"
)

// failing is a store whose every call fails with err.
type failing struct{ err error }

func (f failing) Claim(context.Context, string, time.Duration) (bool, error) { return false, f.err }
func (f failing) Complete(context.Context, string, time.Duration) error      { return f.err }
func (f failing) Release(context.Context, string) error                      { return f.err }

func TestFailOpenConformance(t *testing.T) {
	// A healthy store behaves the same wrapped.
	dedupetest.RunHarness(t, func(t *testing.T) dedupetest.Harness {
		m, clock := newFakeMemory(t)
		return dedupetest.Harness{Store: dedupe.FailOpen(m, func(err error) { t.Errorf("onError(%v) for a healthy store", err) }), Advance: clock.Advance}
	})
}

func TestFailOpen(t *testing.T) {
	outage := &dedupe.StoreError{Op: "redis claim", Err: errors.New("connection refused")}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		inner     error
		ctx       context.Context
		nilHook   bool
		wantOK    bool
		wantErr   error
		wantCalls int
	}{
		{"outage fails open", outage, context.Background(), false, true, nil, 1},
		{"full fails open", dedupe.ErrFull, context.Background(), false, true, nil, 1},
		{"closed fails open", dedupe.ErrClosed, context.Background(), false, true, nil, 1},
		{"nil onError", outage, context.Background(), true, true, nil, 0},
		{"invalid duration is a bug", dedupe.ErrInvalidDuration, context.Background(), false, false, dedupe.ErrInvalidDuration, 0},
		{"caller's context done", context.Canceled, cancelled, false, false, context.Canceled, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			var hook func(error)
			if !tc.nilHook {
				hook = func(err error) {
					calls++
					if !errors.Is(err, tc.inner) {
						t.Errorf("onError(%v), want %v", err, tc.inner)
					}
				}
			}
			s := dedupe.FailOpen(failing{tc.inner}, hook)
			ok, err := s.Claim(tc.ctx, "k", time.Minute)
			if ok != tc.wantOK || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Claim = %v, %v; want %v, %v", ok, err, tc.wantOK, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Fatalf("onError called %d times, want %d", calls, tc.wantCalls)
			}
			// Complete and Release errors pass through unchanged.
			if err := s.Complete(tc.ctx, "k", time.Minute); !errors.Is(err, tc.inner) {
				t.Fatalf("Complete = %v, want %v", err, tc.inner)
			}
			if err := s.Release(tc.ctx, "k"); !errors.Is(err, tc.inner) {
				t.Fatalf("Release = %v, want %v", err, tc.inner)
			}
			if calls != tc.wantCalls {
				t.Fatalf("onError called for Complete or Release")
			}
		})
	}
}

func TestStoreError(t *testing.T) {
	inner := context.DeadlineExceeded
	err := error(&dedupe.StoreError{Op: "redis release", Err: inner})
	if got, want := err.Error(), "dedupe: redis release: context deadline exceeded"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, dedupe.ErrUnavailable) || !errors.Is(err, inner) || errors.Is(err, dedupe.ErrClosed) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
}
