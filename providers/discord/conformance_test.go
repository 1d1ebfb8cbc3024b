package discord_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/discord"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// seed returns a hex Ed25519 private key (seed) derived from label.
func seed(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])
}

func hash(b string) string {
	sum := sha256.Sum256([]byte(b))
	return hex.EncodeToString(sum[:])
}

// newProvider builds a provider from the suite's configuration: its
// secrets are private keys, whose public keys the provider gets; vectors
// give public keys.
func newProvider(c providertest.Config) (provider.Provider, error) {
	keys := append([]string(nil), c.PublicKeys...)
	for _, s := range c.Secrets {
		pub, err := discord.PublicKey(s)
		if err != nil {
			keys = append(keys, s) // let New refuse it
			continue
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		keys = []string{""}
	}
	return discord.New(keys[0], discord.WithPublicKeys(keys[1:]...),
		discord.WithClock(c.Now), discord.WithTolerance(c.Tolerance))
}

const authorized = `{"version":1,"application_id":"1234567890123456789","type":1,"event":{"type":"APPLICATION_AUTHORIZED",` +
	`"timestamp":"2024-10-18T14:42:53.064834","data":{"integration_type":1,"scopes":["applications.commands"],` +
	`"user":{"id":"987654321098765432","username":"wumpus"}}}}`

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New:     newProvider,
		Sign:    discord.SignRequest,
		Secrets: []string{seed("discord one"), seed("discord two"), seed("discord three")},
		Samples: []providertest.Sample{
			{
				Name: "APPLICATION_COMMAND", Header: jsonHeader, ID: "787053080478613556", Type: "APPLICATION_COMMAND",
				Body: []byte(`{"id":"787053080478613556","application_id":"775799577604522054","token":"ThisIsATokenFromDiscordThatIsVeryLong",` +
					`"type":2,"version":1,"data":{"id":"787053080478613554","name":"test","type":1},` +
					`"guild_id":"290926798626357999","channel_id":"645027906669510667","locale":"en-US"}`),
			},
			{
				Name: "MESSAGE_COMPONENT", Header: jsonHeader, ID: "846462639134605312", Type: "MESSAGE_COMPONENT",
				Body: []byte(`{"id":"846462639134605312","application_id":"775799577604522054","type":3,"version":1,` +
					`"token":"unique_interaction_token","data":{"custom_id":"click_one","component_type":2}}`),
			},
			{
				Name: "webhook event APPLICATION_AUTHORIZED", Header: jsonHeader, Body: []byte(authorized),
				ID: hash(authorized), Type: "APPLICATION_AUTHORIZED",
			},
		},
		Handshakes: []providertest.Handshake{
			{
				Name: "interaction PING", Header: jsonHeader, Signed: true,
				Body: []byte(`{"id":"787053080478613555","application_id":"775799577604522054","token":"ThisIsATokenFromDiscordThatIsVeryLong","type":1,"version":1}`),
				Want: providertest.Response{Status: http.StatusOK, ContentType: "application/json", Body: `{"type":1}`},
			},
			{
				Name: "webhook events PING", Header: jsonHeader, Signed: true,
				Body: []byte(`{"version":1,"application_id":"1234567890123456789","type":0}`),
				Want: providertest.Response{Status: http.StatusNoContent},
			},
			{
				Name: "unsigned interaction PING", Header: jsonHeader,
				Body: []byte(`{"id":"787053080478613555","type":1,"version":1}`),
				Want: providertest.Response{Status: http.StatusUnauthorized, ContentType: "text/plain; charset=utf-8", Body: http.StatusText(http.StatusUnauthorized) + "\n"},
			},
		},
		Malformed: []providertest.Sample{
			{Name: "type not an integer", Header: jsonHeader, Body: []byte(`{"id":"1","type":2.5}`)},
			{Name: "type a string", Header: jsonHeader, Body: []byte(`{"id":"1","type":"2"}`)},
			{Name: "no type", Header: jsonHeader, Body: []byte(`{"id":"1"}`)},
			{Name: "interaction without id", Header: jsonHeader, Body: []byte(`{"type":2,"data":{"name":"test"}}`)},
			{Name: "webhook event without event.type", Header: jsonHeader, Body: []byte(`{"version":1,"type":1,"event":{"data":{}}}`)},
			{Name: "ambiguous id", Header: jsonHeader, Body: []byte(`{"id":"1","ID":"2","type":2}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`type=2`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", discord.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), discord.HeaderSignature)
}

func FuzzConformanceTimestampHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), discord.HeaderTimestamp)
}

// The timestamp is signed but, as Discord states no window, checked only
// with WithTolerance.
func TestTolerance(t *testing.T) {
	priv := seed("discord one")
	pub, err := discord.PublicKey(priv)
	require.NoError(t, err)
	signedAt := time.Unix(1735689600, 0)
	body := []byte(`{"id":"1","type":2}`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, discord.SignRequest(r, body, priv, signedAt))
	later := func() time.Time { return signedAt.Add(time.Hour) }

	p, err := discord.New(pub, discord.WithClock(later))
	require.NoError(t, err)
	assert.NoError(t, p.Verify(r, body), "an hour-old request without WithTolerance")

	p, err = discord.New(pub, discord.WithClock(later), discord.WithTolerance(5*time.Minute))
	require.NoError(t, err)
	err = p.Verify(r, body)
	assert.ErrorIs(t, err, verify.ErrTimestampOutsideWindow)
	p, err = discord.New(pub, discord.WithClock(func() time.Time { return signedAt.Add(time.Minute) }), discord.WithTolerance(5*time.Minute))
	require.NoError(t, err)
	assert.NoError(t, p.Verify(r, body), "a minute-old request within 5 minutes")
}

func TestNewRefusesBadKeys(t *testing.T) {
	for _, key := range []string{"", " ", "zz", "00", seed("x") + seed("y") + "00"} {
		_, err := discord.New(key)
		assert.ErrorIs(t, err, verify.ErrNoSecret, "key %q", key)
	}
}
