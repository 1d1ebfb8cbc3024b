package twitch_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/twitch"
)

// header returns the headers Twitch sends besides the timestamp and the
// signature.
func header(messageType, messageID, subscriptionType string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	h.Set(twitch.HeaderMessageID, messageID)
	h.Set(twitch.HeaderMessageRetry, "0")
	h.Set(twitch.HeaderMessageType, messageType)
	if subscriptionType != "" {
		h.Set(twitch.HeaderSubscriptionType, subscriptionType)
		h.Set(twitch.HeaderSubscriptionVersion, "2")
	}
	return h
}

var (
	followBody = []byte(`{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","type":"channel.follow","version":"2",` +
		`"status":"enabled","cost":0,"condition":{"broadcaster_user_id":"12826","moderator_user_id":"12826"},` +
		`"transport":{"method":"webhook","callback":"https://example.com/webhooks/callback"},"created_at":"2019-11-16T10:11:12.634234626Z"},` +
		`"event":{"user_id":"1337","user_login":"awesome_user","user_name":"Awesome_User","broadcaster_user_id":"12826",` +
		`"broadcaster_user_login":"twitch","broadcaster_user_name":"Twitch","followed_at":"2020-07-15T18:16:11.17106713Z"}}`)
	onlineBody = []byte(`{"subscription":{"id":"8d3ac3e5-2f1c-4b4e-9d3b-2c4fd3b0e8a1","type":"stream.online","version":"1",` +
		`"status":"enabled","cost":0,"condition":{"broadcaster_user_id":"1337"},` +
		`"transport":{"method":"webhook","callback":"https://example.com/webhooks/callback"},"created_at":"2019-11-16T10:11:12.634234626Z"},` +
		`"event":{"id":"9001","broadcaster_user_id":"1337","broadcaster_user_login":"cool_user","type":"live","started_at":"2020-10-11T10:11:12.123Z"}}`)
	revocationBody = []byte(`{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"authorization_revoked",` +
		`"type":"channel.follow","cost":1,"version":"2","condition":{"broadcaster_user_id":"12826"},` +
		`"transport":{"method":"webhook","callback":"https://example.com/webhooks/callback"},"created_at":"2019-11-16T10:11:12.634234626Z"}}`)
	challengeBody = []byte(`{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4",` +
		`"status":"webhook_callback_verification_pending","type":"channel.follow","version":"2","cost":1,` +
		`"condition":{"broadcaster_user_id":"12826"},"transport":{"method":"webhook","callback":"https://example.com/webhooks/callback"},` +
		`"created_at":"2019-11-16T10:11:12.634234626Z"}}`)
)

func harness(t testing.TB) providertest.Harness {
	unauthorized := providertest.Response{Status: http.StatusUnauthorized, ContentType: "text/plain; charset=utf-8", Body: "Unauthorized\n"}
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return twitch.New(c.Secrets[0], twitch.WithSecrets(c.Secrets[1:]...),
				twitch.WithClock(c.Now), twitch.WithTolerance(c.Tolerance))
		},
		Sign:    twitch.SignRequest,
		Secrets: []string{"twitch-eventsub-secret-one", "twitch-eventsub-secret-two", "twitch-eventsub-secret-three"},
		Samples: []providertest.Sample{
			{Name: "channel.follow", Header: header(twitch.MessageNotification, "befa7b53-d79d-478f-86b9-120f112b044e", "channel.follow"),
				Body: followBody, ID: "befa7b53-d79d-478f-86b9-120f112b044e", Type: "channel.follow"},
			{Name: "stream.online", Header: header(twitch.MessageNotification, "5f2f3e6c-8a5e-4a7b-9a3c-0c2b1d4e5f60", ""),
				Body: onlineBody, ID: "5f2f3e6c-8a5e-4a7b-9a3c-0c2b1d4e5f60", Type: "stream.online"},
			{Name: "revocation", Header: header(twitch.MessageRevocation, "84c1e79a-2a4b-4c13-ba0b-4312293e9308", "channel.follow"),
				Body: revocationBody, ID: "84c1e79a-2a4b-4c13-ba0b-4312293e9308", Type: twitch.TypeRevocation},
		},
		SignedHeaders: []string{twitch.HeaderMessageID},
		Handshakes: []providertest.Handshake{
			{
				Name:   "webhook_callback_verification",
				Header: header(twitch.MessageVerification, "e76c6bd4-55c9-4987-8304-da1588d8988b", "channel.follow"),
				Body:   challengeBody, Signed: true,
				Want: providertest.Response{Status: http.StatusOK, ContentType: "text/plain", Body: "pogchamp-kappa-360noscope-vohiyo"},
			},
			{
				Name:   "unsigned webhook_callback_verification",
				Header: header(twitch.MessageVerification, "e76c6bd4-55c9-4987-8304-da1588d8988b", "channel.follow"),
				Body:   challengeBody,
				Want:   unauthorized,
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no message type", Header: header("", "m1", "channel.follow"), Body: followBody},
			{Name: "unknown message type", Header: header("keepalive", "m1", "channel.follow"), Body: followBody},
			{Name: "no message id", Header: header(twitch.MessageNotification, "", "channel.follow"), Body: followBody},
			{Name: "subscription type header disagrees", Header: header(twitch.MessageNotification, "m1", "channel.ban"), Body: followBody},
			{Name: "notification without event", Header: header(twitch.MessageNotification, "m1", "channel.follow"), Body: revocationBody},
			{Name: "revocation with an event", Header: header(twitch.MessageRevocation, "m1", "channel.follow"), Body: followBody},
			{Name: "verification without challenge", Header: header(twitch.MessageVerification, "m1", "channel.follow"), Body: revocationBody},
			{Name: "no subscription type", Header: header(twitch.MessageNotification, "m1", ""), Body: []byte(`{"subscription":{},"event":{}}`)},
			{Name: "not JSON", Header: header(twitch.MessageNotification, "m1", "channel.follow"), Body: []byte(`challenge=x`)},
		},
		Tolerance: twitch.DefaultTolerance,
		Vectors:   providertest.LoadVectors(t, "../testdata/vectors.json", twitch.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceTimestamp(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), twitch.HeaderTimestamp)
}

func FuzzConformanceSignature(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), twitch.HeaderSignature)
}

// TestHandshakeOnlyForVerification checks that Handshake answers nothing
// but a POSTed webhook_callback_verification with a challenge, and marks its
// answer VerifyFirst.
func TestHandshakeOnlyForVerification(t *testing.T) {
	p, err := twitch.New("twitch-eventsub-secret-one")
	require.NoError(t, err)
	req := func(method, messageType string) *http.Request {
		r, err := http.NewRequest(method, providertest.DefaultURL, nil)
		require.NoError(t, err)
		r.Header.Set(twitch.HeaderMessageType, messageType)
		return r
	}
	rep := p.Handshake(req(http.MethodPost, twitch.MessageVerification), challengeBody)
	require.NotNil(t, rep)
	assert.True(t, rep.VerifyFirst)
	assert.Equal(t, "pogchamp-kappa-360noscope-vohiyo", string(rep.Body))
	assert.Nil(t, p.Handshake(req(http.MethodGet, twitch.MessageVerification), nil))
	assert.Nil(t, p.Handshake(req(http.MethodPost, twitch.MessageNotification), challengeBody))
	assert.Nil(t, p.Handshake(req(http.MethodPost, twitch.MessageRevocation), revocationBody))
	assert.Nil(t, p.Handshake(req(http.MethodPost, twitch.MessageVerification), revocationBody))
	assert.Nil(t, p.Handshake(req(http.MethodPost, twitch.MessageVerification), []byte(`{"challenge":1}`)))
}
