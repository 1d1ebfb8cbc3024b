package hooklambda_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	hooklambda "github.com/hookwise/hookwise/adapters/lambda"
	"github.com/hookwise/hookwise/providers/hubspot"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHubSpotV3SignedURLVerifiesInEveryShape: HubSpot v3 signs the method
// and the full URL (read from URL.RequestURI, not RequestURI), with the
// stage of a REST API.
func TestHubSpotV3SignedURLVerifiesInEveryShape(t *testing.T) {
	const secret = "hubspot-client-secret"
	body := `[{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":1700000000000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":4,"changeFlag":"NEW","changeSource":"CRM"}]`
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			var handled []string
			mux := receiver.NewMux()
			mux.Handle("*", receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
				handled = append(handled, e.Type)
				return nil
			}))
			p, err := hubspot.New(secret)
			require.NoError(t, err)
			rc, err := hooklambda.NewReceiver(p, mux)
			require.NoError(t, err)
			defer rc.Shutdown(context.Background())
			a, err := hooklambda.New(rc)
			require.NoError(t, err)
			for _, sec := range []string{"forged", secret} {
				req, err := http.NewRequest(http.MethodPost, "https://"+restHost+stage+"/hubspot?portal=3", nil)
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				require.NoError(t, hubspot.SignRequest(req, []byte(body), sec, time.Now()))
				req.Body = readCloserOf(body)
				res := s.call(t, a, context.Background(), req, plain)
				if sec == secret {
					assert.Equal(t, http.StatusOK, res.status, strings.TrimSpace(res.body))
				} else {
					assert.Equal(t, http.StatusUnauthorized, res.status)
				}
			}
			assert.Equal(t, []string{"contact.creation"}, handled)
		})
	}
}
