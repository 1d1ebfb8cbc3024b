package kit_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

// The providers below are declarations and nothing else: each runs the
// conformance suite with the shared vectors of the sender it imitates.

const vectorsFile = "../../testdata/vectors.json"

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func header(kv ...string) http.Header {
	h := jsonHeader.Clone()
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// vectors returns the named provider's vectors that test the signature
// alone (no handshake answer), those whose ID passes keep when keep is set.
func vectors(t testing.TB, name string, keep func(id string) bool) []providertest.Vector {
	return slices.DeleteFunc(providertest.LoadVectors(t, vectorsFile, name), func(v providertest.Vector) bool {
		return v.ExpectResponse != nil || (keep != nil && !keep(v.ID))
	})
}

// newFunc returns a Harness.New for s.
func newFunc(s *kit.Scheme) func(c providertest.Config) (provider.Provider, error) {
	return func(c providertest.Config) (provider.Provider, error) {
		p, err := s.New(kit.Options{Secrets: c.Secrets, Now: c.Now, Tolerance: c.Tolerance})
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

// forged returns a list entry that never verifies: prefix and the hex of a
// 32-byte hash.
func forged(prefix string) func(i int) string {
	return func(i int) string {
		sum := sha256.Sum256([]byte("forged " + strconv.Itoa(i)))
		return prefix + hex.EncodeToString(sum[:])
	}
}

// shopify: base64 HMAC-SHA256 of the body, ID and type in headers.
var shopify = &kit.Scheme{
	Name:      "shopify",
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: "X-Shopify-Hmac-Sha256", Encoding: verify.Base64},
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: "X-Shopify-Event-Id", Required: true},
		Type: kit.Field{Header: "X-Shopify-Topic", Required: true},
	},
}

func shopifyHarness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New:     newFunc(shopify),
		Sign:    shopify.Sign,
		Secrets: []string{"shpss_one", "shpss_two", "shpss_three"},
		Samples: []providertest.Sample{{
			Name:   "orders/create",
			Header: header("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5", "X-Shopify-Topic", "orders/create"),
			Body:   []byte(`{"id":820982911946154508,"email":"jon@example.com"}`),
			ID:     "98880550-7158-44d4-b7cd-2c97c8a091b5", Type: "orders/create",
		}},
		Malformed: []providertest.Sample{
			{Name: "no event id", Header: header("X-Shopify-Topic", "orders/create"), Body: []byte(`{}`)},
			{Name: "no topic", Header: header("X-Shopify-Event-Id", "e1"), Body: []byte(`{}`)},
			{Name: "two event ids", Header: http.Header{"X-Shopify-Event-Id": {"e1", "e2"}, "X-Shopify-Topic": {"orders/create"}}, Body: []byte(`{}`)},
		},
		Vectors: vectors(t, "shopify", nil),
	}
}

func TestShopifyDeclared(t *testing.T) { providertest.Run(t, shopifyHarness(t)) }

func FuzzShopifyDeclared(f *testing.F) {
	providertest.FuzzVerifyHeader(f, shopifyHarness(f), "X-Shopify-Hmac-Sha256")
}

// paddle: "ts=…;h1=…" over ts + ":" + body, a list with a timestamp field.
var paddle = &kit.Scheme{
	Name:      "paddle",
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: "Paddle-Signature", Prefix: "h1=", Sep: ";"},
	Timestamp: &kit.Timestamp{Field: "ts=", Tolerance: time.Minute},
	Message:   []kit.Piece{kit.Time, kit.Lit(":"), kit.Body},
	Envelope: kit.Envelope{
		ID:   kit.Field{JSON: []string{"event_id"}, Required: true},
		Type: kit.Field{JSON: []string{"event_type"}, Required: true},
	},
}

func paddleHarness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New:     newFunc(paddle),
		Sign:    paddle.Sign,
		Secrets: []string{"pdl_ntfset_one", "pdl_ntfset_two", "pdl_ntfset_three"},
		Samples: []providertest.Sample{{
			Name: "subscription.created", Header: jsonHeader, ID: "evt_01h", Type: "subscription.created",
			Body: []byte(`{"event_id":"evt_01h","event_type":"subscription.created","data":{"id":"sub_1"}}`),
		}},
		Malformed: []providertest.Sample{
			{Name: "no event_id", Header: jsonHeader, Body: []byte(`{"event_type":"a"}`)},
			{Name: "ambiguous", Header: jsonHeader, Body: []byte(`{"event_id":"a","Event_ID":"b","event_type":"a"}`)},
			{Name: "id not a string", Header: jsonHeader, Body: []byte(`{"event_id":1,"event_type":"a"}`)},
		},
		Tolerance: time.Minute,
		List:      &providertest.SignatureList{Header: "Paddle-Signature", Sep: ";", Entry: forged("h1=")},
		Vectors:   vectors(t, "paddle", nil),
	}
}

func TestPaddleDeclared(t *testing.T) { providertest.Run(t, paddleHarness(t)) }

func FuzzPaddleDeclared(f *testing.F) {
	providertest.FuzzVerifyHeader(f, paddleHarness(f), "Paddle-Signature")
}

// twitch: an RFC 3339 timestamp header, a message with a header piece.
var twitch = &kit.Scheme{
	Name:      "twitch",
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: "Twitch-Eventsub-Message-Signature", Prefix: "sha256="},
	Timestamp: &kit.Timestamp{Header: "Twitch-Eventsub-Message-Timestamp", Format: kit.RFC3339, Tolerance: 10 * time.Minute},
	Message:   []kit.Piece{kit.HeaderPiece("Twitch-Eventsub-Message-Id"), kit.Time, kit.Body},
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: "Twitch-Eventsub-Message-Id", Required: true},
		Type: kit.Field{Header: "Twitch-Eventsub-Subscription-Type", Required: true},
	},
}

func twitchHarness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New:     newFunc(twitch),
		Sign:    twitch.Sign,
		Secrets: []string{"twitch-secret-one", "twitch-secret-two", "twitch-secret-three"},
		Samples: []providertest.Sample{{
			Name: "channel.follow", ID: "befa7b53-d79d-478f-86b9-120f112b044e", Type: "channel.follow",
			Header: header("Twitch-Eventsub-Message-Id", "befa7b53-d79d-478f-86b9-120f112b044e",
				"Twitch-Eventsub-Subscription-Type", "channel.follow"),
			Body: []byte(`{"subscription":{"type":"channel.follow"},"event":{"user_id":"1337"}}`),
		}},
		SignedHeaders: []string{"Twitch-Eventsub-Message-Id"},
		Tolerance:     10 * time.Minute,
		Vectors:       vectors(t, "twitch", nil),
	}
}

func TestTwitchDeclared(t *testing.T) { providertest.Run(t, twitchHarness(t)) }

func FuzzTwitchDeclared(f *testing.F) {
	providertest.FuzzVerifyHeader(f, twitchHarness(f), "Twitch-Eventsub-Message-Timestamp")
}

// hubspot v3: method + URL + body + a timestamp in milliseconds, base64.
var hubspot = &kit.Scheme{
	Name:      "hubspot",
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: "X-HubSpot-Signature-v3", Encoding: verify.Base64},
	Timestamp: &kit.Timestamp{Header: "X-HubSpot-Request-Timestamp", Format: kit.UnixMilli},
	Message:   []kit.Piece{kit.Method, kit.URL, kit.Body, kit.Time},
	Envelope:  kit.Envelope{ID: kit.Field{BodyHash: true}},
}

func TestHubSpotV3Declared(t *testing.T) {
	body := []byte(`[{"eventId":1}]`)
	sum := sha256.Sum256(body)
	providertest.Run(t, providertest.Harness{
		New:       newFunc(hubspot),
		Sign:      hubspot.Sign,
		Secrets:   []string{"hubspot-one", "hubspot-two", "hubspot-three"},
		Samples:   []providertest.Sample{{Name: "batch", Header: jsonHeader, Body: body, ID: hex.EncodeToString(sum[:])}},
		Tolerance: verify.DefaultTolerance,
		Vectors:   vectors(t, "hubspot", func(id string) bool { return strings.Contains(id, "-v3-") }),
	})
}

// square: URL + body, base64; the URL is configured.
var square = &kit.Scheme{
	Name:      "square",
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: "X-Square-Hmacsha256-Signature", Encoding: verify.Base64},
	Message:   []kit.Piece{kit.URL, kit.Body},
	Envelope: kit.Envelope{
		ID:   kit.Field{JSON: []string{"event_id"}, Required: true},
		Type: kit.Field{JSON: []string{"type"}, Required: true},
	},
}

func TestSquareDeclared(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New:     newFunc(square),
		Sign:    square.Sign,
		Secrets: []string{"square-one", "square-two", "square-three"},
		Samples: []providertest.Sample{{
			Name: "payment.created", Header: jsonHeader, ID: "e1", Type: "payment.created",
			Body: []byte(`{"merchant_id":"M1","type":"payment.created","event_id":"e1"}`),
		}},
		Vectors: vectors(t, "square", nil),
	})
}

// discord: Ed25519 over timestamp + body; hex key and signature; the type
// is a JSON number.
var discord = &kit.Scheme{
	Name:      "discord",
	Algorithm: kit.Ed25519,
	Signature: kit.Signature{Header: "X-Signature-Ed25519"},
	Timestamp: &kit.Timestamp{Header: "X-Signature-Timestamp", Unchecked: true},
	Message:   []kit.Piece{kit.Time, kit.Body},
	Envelope: kit.Envelope{
		ID:   kit.Field{JSON: []string{"id"}, Required: true},
		Type: kit.Field{JSON: []string{"type"}, Number: true, Required: true},
	},
}

func seed(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])
}

func TestDiscordDeclared(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			keys := c.PublicKeys
			for _, s := range c.Secrets { // the suite's secrets are private keys
				pub, err := discord.Ed25519PublicKey(s)
				if err != nil {
					keys = append(keys, s) // let New refuse it
					continue
				}
				keys = append(keys, hex.EncodeToString(pub))
			}
			return discord.New(kit.Options{Secrets: keys, Now: c.Now, Tolerance: c.Tolerance})
		},
		Sign:    discord.Sign,
		Secrets: []string{seed("one"), seed("two"), seed("three")},
		Samples: []providertest.Sample{{
			Name: "application command", Header: jsonHeader, ID: "787053080478613556", Type: "2",
			Body: []byte(`{"id":"787053080478613556","type":2,"data":{"name":"ping"}}`),
		}},
		Malformed: []providertest.Sample{
			{Name: "type not an integer", Header: jsonHeader, Body: []byte(`{"id":"1","type":2.5}`)},
		},
		Vectors: vectors(t, "discord", nil),
	})
}

// The token and Basic schemes authenticate the sender, not the body, so
// the suite's tampered-body checks do not apply: their vectors and their
// own checks run here.

var gitlab = &kit.Scheme{
	Name:      "gitlab",
	Algorithm: kit.Token,
	Signature: kit.Signature{Header: "X-Gitlab-Token"},
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: "Idempotency-Key"},
		Type: kit.Field{Header: "X-Gitlab-Event", Required: true},
	},
}

var postmark = &kit.Scheme{
	Name:      "postmark",
	Algorithm: kit.Basic,
	Envelope: kit.Envelope{
		ID:   kit.Field{JSON: []string{"MessageID"}, Required: true},
		Type: kit.Field{JSON: []string{"RecordType"}, Required: true},
	},
}

func TestTokenAndBasicVectors(t *testing.T) {
	for _, s := range []*kit.Scheme{gitlab, postmark} {
		for _, v := range vectors(t, s.Name, nil) {
			t.Run(v.ID, func(t *testing.T) {
				p, err := s.New(kit.Options{Secrets: []string{v.Secret}})
				require.NoError(t, err)
				r, body := v.Request()
				err = p.Verify(r, body)
				if v.Valid() {
					require.NoError(t, err)
					_, err := p.Parse(r, body)
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, verify.ErrVerification)
				require.NotContains(t, err.Error(), v.Secret)
			})
		}
	}
}

func TestDeclaredHelpers(t *testing.T) {
	pub, err := discord.Ed25519PublicKey(seed("one"))
	require.NoError(t, err)
	raw, _ := hex.DecodeString(seed("one"))
	require.Equal(t, ed25519.NewKeyFromSeed(raw).Public(), pub)
	b, err := kit.Base64Key(base64.StdEncoding.EncodeToString([]byte("key")))
	require.NoError(t, err)
	require.Equal(t, []byte("key"), b)
}
