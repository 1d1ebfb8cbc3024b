package providers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// idRecorder records the IDs of the events it handles.
type idRecorder struct {
	mu  sync.Mutex
	ids map[string]int
}

func (h *idRecorder) HandleEvent(_ context.Context, ev *receiver.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids[ev.ID]++
	return nil
}

// rotationCase is a provider built on a secret source and a signer of a
// delivery with a given ID.
type rotationCase struct {
	name      string
	old, next string
	forged    string
	build     func(src provider.SecretSource) (provider.Provider, error)
	// request returns a delivery made unique by id, signed with secret,
	// and the event ID the provider reads from it.
	request func(t *testing.T, url, secret, id string) (*http.Request, string)
}

var rotationCases = []rotationCase{
	{
		name: "stripe", old: "whsec_old", next: "whsec_new", forged: "whsec_forged",
		build: func(src provider.SecretSource) (provider.Provider, error) { return stripe.NewFromSource(src) },
		request: func(_ *testing.T, url, secret, id string) (*http.Request, string) {
			return stripe.NewRequest(url, secret, time.Now(), []byte(`{"id":"`+id+`","type":"invoice.paid"}`)), id
		},
	},
	{
		name: "slack", old: "slack-old", next: "slack-new", forged: "slack-forged",
		build: func(src provider.SecretSource) (provider.Provider, error) { return slack.NewFromSource(src) },
		request: func(_ *testing.T, url, secret, id string) (*http.Request, string) {
			body := []byte(`{"type":"event_callback","event_id":"` + id + `","event":{"type":"app_mention"}}`)
			return slack.NewRequest(url, secret, time.Now(), body, "application/json"), id
		},
	},
	{
		name: "github", old: "gh-old", next: "gh-new", forged: "gh-forged",
		build: func(src provider.SecretSource) (provider.Provider, error) { return github.NewFromSource(src) },
		request: func(_ *testing.T, url, secret, id string) (*http.Request, string) {
			// The ID is the hash of the body: a unique body per delivery.
			body := []byte(`{"action":"opened","issue":{"id":"` + id + `"},"repository":{},"sender":{}}`)
			return github.NewRequest(url, secret, "issues", github.NewDeliveryID(), body), github.EventID(body)
		},
	},
	{
		name: "standardwebhooks", old: "whsec_" + "b2xkLXNlY3JldC1vbGQ=", next: "whsec_" + "bmV3LXNlY3JldC1uZXc=", forged: "whsec_" + "Zm9yZ2VkLXNlY3JldA==",
		build: func(src provider.SecretSource) (provider.Provider, error) { return standardwebhooks.NewFromSource(src) },
		request: func(t *testing.T, url, secret, id string) (*http.Request, string) {
			return standardwebhooks.NewRequest(url, secret, id, time.Now(), []byte(`{"type":"user.created"}`)), id
		},
	},
}

// A secret source rotated under a running receiver: while deliveries
// signed with the old secret, the new one and a forged one arrive
// concurrently, the source is Set to the new secret. A delivery signed with
// the old secret that completed before Set began was accepted, one that
// started after Set returned was refused; the reverse for the new secret; a
// forged one was always refused; and exactly the accepted deliveries
// reached the handler, once each.
func TestSecretRotationUnderLoad(t *testing.T) {
	for _, tc := range rotationCases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := provider.NewSecrets(tc.old)
			require.NoError(t, err)
			p, err := tc.build(src)
			require.NoError(t, err)
			h := &idRecorder{ids: map[string]int{}}
			rcv, err := receiver.New(p, h, receiver.Workers(4))
			require.NoError(t, err)
			srv := httptest.NewServer(rcv)
			defer srv.Close()

			// epoch: 0 before Set, 1 while Set runs, 2 after it returned.
			var epoch atomic.Int32
			type result struct {
				id, secret string
				before     int32 // epoch when the request was sent
				after      int32 // epoch when its answer arrived
				status     int
			}
			var (
				mu      sync.Mutex
				results []result
				seq     atomic.Int64
				done    atomic.Int64
				stop    atomic.Bool
			)
			secrets := []string{tc.old, tc.next, tc.forged}
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						secret := secrets[(w+i)%len(secrets)]
						req, id := tc.request(t, srv.URL, secret, fmt.Sprintf("evt_%d", seq.Add(1)))
						before := epoch.Load()
						resp, err := srv.Client().Do(req)
						if !assert.NoError(t, err) {
							return
						}
						resp.Body.Close()
						after := epoch.Load()
						mu.Lock()
						results = append(results, result{id, secret, before, after, resp.StatusCode})
						mu.Unlock()
						done.Add(1)
					}
				}()
			}
			waitFor := func(n int64) {
				deadline := time.Now().Add(20 * time.Second)
				for done.Load() < n && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			}
			waitFor(90)
			epoch.Store(1)
			require.NoError(t, src.Set(tc.next))
			epoch.Store(2)
			waitFor(done.Load() + 90)
			stop.Store(true)
			wg.Wait()
			srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, rcv.Shutdown(ctx))

			var beforeSet, afterSet int
			accepted := map[string]bool{}
			for _, r := range results {
				ok := r.status >= 200 && r.status < 300
				if ok {
					accepted[r.id] = true
				} else {
					assert.Equal(t, http.StatusUnauthorized, r.status, "%s signed with %s", r.id, r.secret)
				}
				switch {
				case r.secret == tc.forged:
					assert.False(t, ok, "a forged delivery was accepted")
				case r.after == 0:
					beforeSet++
					assert.Equal(t, r.secret == tc.old, ok, "before Set: %s signed with %s got %d", r.id, r.secret, r.status)
				case r.before == 2:
					afterSet++
					assert.Equal(t, r.secret == tc.next, ok, "after Set: %s signed with %s got %d", r.id, r.secret, r.status)
				}
			}
			require.Greater(t, beforeSet, 30, "deliveries completed before Set")
			require.Greater(t, afterSet, 30, "deliveries sent after Set")
			h.mu.Lock()
			defer h.mu.Unlock()
			assert.Len(t, h.ids, len(accepted), "events handled")
			for id, n := range h.ids {
				assert.True(t, accepted[id], "%s reached the handler without being accepted", id)
				assert.Equal(t, 1, n, "%s handled %d times", id, n)
			}
		})
	}
}
