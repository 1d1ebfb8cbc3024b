package intake_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/intake"
)

// TestRefresherKeepsLastGoodList serves a good list, then failures of every
// kind, then a changed list, and checks what the List holds after each.
func TestRefresherKeepsLastGoodList(t *testing.T) {
	var mode atomic.Value
	mode.Store("good")
	meta := fixture(t, "github_meta.json")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load().(string) {
		case "good":
			_, _ = w.Write(meta)
		case "500":
			http.Error(w, "oops", http.StatusInternalServerError)
		case "garbage":
			_, _ = w.Write([]byte(`{"hooks":["not a range"]}`))
		case "empty":
			_, _ = w.Write([]byte(`{"hooks":[]}`))
		case "changed":
			_, _ = w.Write([]byte(`{"hooks":["198.51.100.0/24"]}`))
		}
	}))
	defer srv.Close()

	var logs bytes.Buffer
	list := intake.NewList(nil)
	ref, err := intake.NewRefresher(intake.RefresherConfig{
		List: list,
		Load: func(ctx context.Context) ([]netip.Prefix, error) {
			return intake.LoadGitHubMeta(ctx, srv.Client(), srv.URL)
		},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)
	github := netip.MustParseAddr("140.82.115.1")

	mode.Store("500")
	assert.ErrorIs(t, ref.Refresh(context.Background()), intake.ErrFetch)
	assert.Nil(t, list.Load(), "no good list yet: still unloaded")

	mode.Store("good")
	require.NoError(t, ref.Refresh(context.Background()))
	good := list.Load()
	require.NotNil(t, good)
	assert.True(t, good.Contains(github))
	okAt, lastErr := ref.Status()
	assert.False(t, okAt.IsZero())
	assert.NoError(t, lastErr)

	for _, m := range []string{"500", "garbage", "empty"} {
		mode.Store(m)
		err := ref.Refresh(context.Background())
		assert.Error(t, err, m)
		assert.Same(t, good, list.Load(), "%s: the last good list stays", m)
		_, lastErr = ref.Status()
		assert.Equal(t, err, lastErr)
	}
	assert.Contains(t, logs.String(), "keeping the last good list")
	assert.NotContains(t, logs.String(), "not a range", "the body is never logged")

	mode.Store("changed")
	require.NoError(t, ref.Refresh(context.Background()))
	assert.False(t, list.Load().Contains(github))
	assert.True(t, list.Load().Contains(netip.MustParseAddr("198.51.100.7")))
}

func TestRefresherTimeoutAndEmptyLoader(t *testing.T) {
	list := intake.NewList(intake.NewPrefixSet(pfx("10.0.0.0/8")...))
	before := list.Load()
	var sawDeadline bool
	ref, err := intake.NewRefresher(intake.RefresherConfig{
		List:    list,
		Timeout: time.Minute,
		Load: func(ctx context.Context) ([]netip.Prefix, error) {
			_, sawDeadline = ctx.Deadline()
			return []netip.Prefix{{}}, nil // only invalid prefixes: empty
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	assert.ErrorIs(t, ref.Refresh(context.Background()), intake.ErrEmptyList)
	assert.True(t, sawDeadline, "each load runs under Timeout")
	assert.Same(t, before, list.Load())
}

func TestRefresherRun(t *testing.T) {
	list := intake.NewList(nil)
	results := make(chan error, 10)
	var calls atomic.Int64
	ref, err := intake.NewRefresher(intake.RefresherConfig{
		List:     list,
		Interval: time.Millisecond,
		Load: func(ctx context.Context) ([]netip.Prefix, error) {
			if calls.Add(1) == 1 {
				return nil, errors.New("first load fails")
			}
			return pfx("192.0.2.0/24"), nil
		},
		OnResult: func(err error) {
			select {
			case results <- err:
			default:
			}
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() { defer wg.Done(); runErr = ref.Run(ctx) }()

	assert.Error(t, <-results, "the first load runs at once")
	assert.NoError(t, <-results, "and Run tries again after Interval")
	cancel()
	wg.Wait()
	assert.ErrorIs(t, runErr, context.Canceled)
	assert.True(t, list.Load().Contains(netip.MustParseAddr("192.0.2.1")))
}

func TestRefresherConfig(t *testing.T) {
	load := func(context.Context) ([]netip.Prefix, error) { return nil, nil }
	for name, cfg := range map[string]intake.RefresherConfig{
		"no list":           {Load: load},
		"no loader":         {List: intake.NewList(nil)},
		"negative interval": {List: intake.NewList(nil), Load: load, Interval: -1},
		"negative timeout":  {List: intake.NewList(nil), Load: load, Timeout: -1},
	} {
		_, err := intake.NewRefresher(cfg)
		assert.ErrorIs(t, err, intake.ErrConfig, name)
	}
}
