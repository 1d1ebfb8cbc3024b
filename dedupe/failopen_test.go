package dedupe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/dedupe/dedupetest"
)

// failing is a store whose every call fails with err.
type failing struct{ err error }

func (f failing) Claim(context.Context, string, string, time.Duration) (dedupe.Outcome, error) {
	return 0, f.err
}
func (f failing) Confirm(context.Context, string, string, time.Duration) (bool, error) {
	return false, f.err
}
func (f failing) Complete(context.Context, string, string, time.Duration) error { return f.err }
func (f failing) Release(context.Context, string, string) error                 { return f.err }

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
		want      dedupe.Outcome
		wantErr   error
		wantCalls int
	}{
		{"outage fails open", outage, context.Background(), false, dedupe.Claimed, nil, 1},
		{"full fails open", dedupe.ErrFull, context.Background(), false, dedupe.Claimed, nil, 1},
		{"closed fails open", dedupe.ErrClosed, context.Background(), false, dedupe.Claimed, nil, 1},
		{"nil onError", outage, context.Background(), true, dedupe.Claimed, nil, 0},
		{"invalid duration is a bug", dedupe.ErrInvalidDuration, context.Background(), false, 0, dedupe.ErrInvalidDuration, 0},
		{"invalid token is a bug", dedupe.ErrInvalidToken, context.Background(), false, 0, dedupe.ErrInvalidToken, 0},
		{"caller's context done", context.Canceled, cancelled, false, 0, context.Canceled, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			var hook func(error)
			if !tc.nilHook {
				hook = func(err error) {
					calls++
					assert.ErrorIs(t, err, tc.inner, "onError")
				}
			}
			s := dedupe.FailOpen(failing{tc.inner}, hook)
			tok := dedupe.NewToken()
			o, err := s.Claim(tc.ctx, "k", tok, time.Minute)
			if tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.wantErr)
			}
			require.Equal(t, tc.want, o, "Claim")
			require.Equal(t, tc.wantCalls, calls, "onError calls")
			// Confirm, Complete and Release errors pass through unchanged.
			ok, err := s.Confirm(tc.ctx, "k", tok, time.Minute)
			assert.ErrorIs(t, err, tc.inner, "Confirm")
			assert.False(t, ok, "Confirm")
			assert.ErrorIs(t, s.Complete(tc.ctx, "k", tok, time.Minute), tc.inner, "Complete")
			assert.ErrorIs(t, s.Release(tc.ctx, "k", tok), tc.inner, "Release")
			assert.Equal(t, tc.wantCalls, calls, "onError called for Confirm, Complete or Release")
		})
	}
}

func TestFailOpenPassesResults(t *testing.T) {
	m, _ := newFakeMemory(t)
	s := dedupe.FailOpen(m, func(err error) { t.Errorf("onError(%v)", err) })
	ctx := context.Background()
	a, b := dedupe.NewToken(), dedupe.NewToken()
	o, err := s.Claim(ctx, "k", a, time.Minute)
	require.NoError(t, err)
	require.Equal(t, dedupe.Claimed, o)
	o, err = s.Claim(ctx, "k", b, time.Minute)
	require.NoError(t, err)
	require.Equal(t, dedupe.Pending, o)
	ok, err := s.Confirm(ctx, "k", b, time.Hour)
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = s.Confirm(ctx, "k", a, time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	o, err = s.Claim(ctx, "k", b, time.Minute)
	require.NoError(t, err)
	require.Equal(t, dedupe.Duplicate, o)
}

func TestStoreError(t *testing.T) {
	inner := context.DeadlineExceeded
	err := error(&dedupe.StoreError{Op: "redis release", Err: inner})
	assert.Equal(t, "dedupe: redis release: context deadline exceeded", err.Error())
	assert.ErrorIs(t, err, dedupe.ErrUnavailable)
	assert.ErrorIs(t, err, inner)
	assert.NotErrorIs(t, err, dedupe.ErrClosed)
}

// FailOpen passes ReleaseAdmitted through to a store that implements it, and
// over one that does not it does nothing: the claim stays.
func TestFailOpenReleaseAdmitted(t *testing.T) {
	ctx := context.Background()
	m := dedupe.NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	k, a, b := "k", dedupe.NewToken(), dedupe.NewToken()

	f, ok := dedupe.FailOpen(m, nil).(dedupe.AdmittedReleaser)
	require.True(t, ok, "FailOpen implements AdmittedReleaser")
	got, err := m.Claim(ctx, k, a, time.Hour)
	require.NoError(t, err)
	require.Equal(t, dedupe.Claimed, got)
	require.NoError(t, f.ReleaseAdmitted(ctx, k, a))
	got, err = m.Claim(ctx, k, b, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, dedupe.Claimed, got, "a's admitted claim was released through FailOpen")

	plain := dedupe.FailOpen(struct{ dedupe.Store }{m}, nil).(dedupe.AdmittedReleaser)
	require.NoError(t, plain.ReleaseAdmitted(ctx, k, b))
	got, err = m.Claim(ctx, k, a, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, dedupe.Pending, got, "over a store without ReleaseAdmitted, b's claim stays")
}
