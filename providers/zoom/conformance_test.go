package zoom_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/zoom"
)

var jsonHeader = http.Header{"Content-Type": {"application/json; charset=utf-8"}}

var (
	meetingStarted = []byte(`{"event":"meeting.started","payload":{"account_id":"AAAAAABBBB","object":{"id":"1234567890",` +
		`"uuid":"4444AAAiAAAAAiAiAiiAii==","host_id":"x1yCzABCDEfg23HiJKl4mN","topic":"My Meeting","type":2,` +
		`"start_time":"2025-01-01T00:00:00Z","timezone":"America/Los_Angeles","duration":60}},"event_ts":1735689600000}`)
	participantJoined = []byte(`{"event":"meeting.participant_joined","event_ts":1735689660000,"payload":{"account_id":"AAAAAABBBB",` +
		`"object":{"id":"1234567890","uuid":"4444AAAiAAAAAiAiAiiAii==","participant":{"user_id":"16778240",` +
		`"user_name":"Zoë","join_time":"2025-01-01T00:01:00Z"}}}}`)
	validation = []byte(`{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`)
)

func bodyHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// encrypted computes Zoom's encryptedToken independently of the package.
func encrypted(secret, plain string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(plain))
	return hex.EncodeToString(m.Sum(nil))
}

var secrets = []string{"zoom_secret_token_one_abcdef", "zoom_secret_token_two_abcdef", "zoom_secret_token_three_abcd"}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return zoom.New(c.Secrets[0], zoom.WithSecrets(c.Secrets[1:]...),
				zoom.WithClock(c.Now), zoom.WithTolerance(c.Tolerance))
		},
		Sign:    zoom.SignRequest,
		Secrets: secrets,
		Samples: []providertest.Sample{
			{Name: "meeting.started", Header: jsonHeader, Body: meetingStarted, ID: bodyHash(meetingStarted), Type: "meeting.started"},
			{Name: "meeting.participant_joined", Header: jsonHeader, Body: participantJoined,
				ID: bodyHash(participantJoined), Type: "meeting.participant_joined"},
		},
		Handshakes: []providertest.Handshake{
			{
				Name: "endpoint.url_validation", Header: jsonHeader, Body: validation, Signed: true,
				Want: providertest.Response{Status: http.StatusOK, ContentType: "application/json",
					Body: `{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"` + encrypted(secrets[0], "qgg8vlvZRS6UYooatFL8Aw") + `"}`},
			},
			{
				Name: "unsigned endpoint.url_validation", Header: jsonHeader, Body: validation,
				Want: providertest.Response{Status: http.StatusUnauthorized, ContentType: "text/plain; charset=utf-8", Body: "Unauthorized\n"},
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no event", Header: jsonHeader, Body: []byte(`{"payload":{},"event_ts":1735689600000}`)},
			{Name: "ambiguous event", Header: jsonHeader, Body: []byte(`{"event":"meeting.started","EVENT":"meeting.ended"}`)},
			{Name: "validation without plainToken", Header: jsonHeader, Body: []byte(`{"payload":{},"event":"endpoint.url_validation"}`)},
			{Name: "validation with an empty plainToken", Header: jsonHeader, Body: []byte(`{"payload":{"plainToken":""},"event":"endpoint.url_validation"}`)},
			{Name: "plainToken not a string", Header: jsonHeader, Body: []byte(`{"payload":{"plainToken":7},"event":"endpoint.url_validation"}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`event=meeting.started`)},
		},
		Tolerance: zoom.DefaultTolerance,
		Vectors:   providertest.LoadVectors(t, "../testdata/vectors.json", zoom.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignature(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), zoom.HeaderSignature)
}

func FuzzConformanceTimestamp(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), zoom.HeaderTimestamp)
}

// TestURLValidationDuringRotation checks that the answer is keyed with the
// secret token that signed the validation, whichever of the configured ones
// it is, and with a secret source.
func TestURLValidationDuringRotation(t *testing.T) {
	now := time.Unix(1654503849, 0)
	src, err := provider.NewSecrets(secrets[0], secrets[1])
	require.NoError(t, err)
	static, err := zoom.New(secrets[0], zoom.WithSecrets(secrets[1]), zoom.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	sourced, err := zoom.NewFromSource(src, zoom.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	for _, p := range []*zoom.Provider{static, sourced} {
		for _, secret := range secrets[:2] {
			r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, bytes.NewReader(validation))
			require.NoError(t, err)
			require.NoError(t, zoom.SignRequest(r, validation, secret, now))
			require.NoError(t, p.Verify(r, validation))
			env, err := p.Parse(r, validation)
			require.NoError(t, err)
			require.NotNil(t, env.Reply)
			assert.Empty(t, env.ID, "a handshake has no ID")
			assert.JSONEq(t, `{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"`+encrypted(secret, "qgg8vlvZRS6UYooatFL8Aw")+`"}`,
				string(env.Reply.Body))
		}
	}
	assert.Equal(t, encrypted("s", "p"), zoom.EncryptToken("s", "p"))
}
