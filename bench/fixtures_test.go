package bench

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	hwgithub "github.com/hookwise/hookwise/providers/github"
	hwslack "github.com/hookwise/hookwise/providers/slack"
	hwstandard "github.com/hookwise/hookwise/providers/standardwebhooks"
	hwstripe "github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// Secrets of the benchmarked endpoints, in each provider's format.
const (
	githubSecret   = "It's a Secret to Everybody"
	stripeSecret   = "whsec_test_secret_7b4c0e2a9f1d4e8b"
	slackSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// providerNames are the providers, in the order the tables list them.
var providerNames = []string{"github", "stripe", "slack", "standard"}

// size is a body size with its benchmark label.
type size struct {
	label string
	n     int
}

var (
	verifySizes   = []size{{"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"256KiB", 256 << 10}}
	pipelineSizes = []size{{"1KiB", 1 << 10}, {"16KiB", 16 << 10}}
	scalingSizes  = []size{{"1KiB", 1 << 10}, {"4KiB", 4 << 10}, {"16KiB", 16 << 10}, {"64KiB", 64 << 10}, {"256KiB", 256 << 10}, {"1MiB", 1 << 20}}
)

// eventID returns the i-th event ID of a provider, in its usual shape.
func eventID(provider string, i int) string {
	switch provider {
	case "github":
		return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) // a UUID, like X-GitHub-Delivery
	case "stripe":
		return fmt.Sprintf("evt_1Q%022d", i)
	case "slack":
		return fmt.Sprintf("Ev%010d", i)
	default:
		return fmt.Sprintf("msg_2m%020d", i)
	}
}

// jsonBody returns a JSON document of exactly n bytes (n >= 256) for the
// provider, carrying the fields its Parse reads (the event ID for Stripe and
// Slack, whose IDs live in the body; for GitHub, whose ID is the body's
// hash, the ID makes the body distinct) and a nested object padded with text
// to the size, the way real payloads put their bulk under data or event.
func jsonBody(provider, id string, n int) []byte {
	var head, tail string
	switch provider {
	case "github":
		// GitHub's event ID is the hash of the body: the node_id makes bodies distinct.
		head = `{"action":"opened","issue":{"id":1,"node_id":"` + id + `","number":1347,"title":"Found a bug","state":"open","body":"`
		tail = `"},"repository":{"id":1296269,"full_name":"octocat/Hello-World"},"sender":{"login":"octocat"}}`
	case "stripe":
		head = `{"id":"` + id + `","object":"event","api_version":"2024-06-20","created":1735689600,"type":"invoice.paid","data":{"object":{"id":"in_1","object":"invoice","description":"`
		tail = `"}},"livemode":false,"pending_webhooks":1}`
	case "slack":
		head = `{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456","event":{"type":"app_mention","user":"U123ABC456","text":"`
		tail = `","ts":"1515449522.000016","channel":"C123ABC456"},"type":"event_callback","event_id":"` + id + `","event_time":1515449522}`
	default:
		head = `{"type":"user.created","timestamp":"2025-01-01T00:00:00Z","data":{"id":"user_1","bio":"`
		tail = `"}}`
	}
	pad := n - len(head) - len(tail)
	if pad < 0 {
		panic("jsonBody: size too small")
	}
	var b bytes.Buffer
	b.Grow(n)
	b.WriteString(head)
	const text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
	for b.Len() < len(head)+pad {
		b.WriteString(text[:min(len(text), len(head)+pad-b.Len())])
	}
	b.WriteString(tail)
	return b.Bytes()
}

// delivery is one signed delivery: its headers and raw body. The signature
// headers carry the raw values the SDKs are given.
type delivery struct {
	provider string
	id       string
	ts       string // the signed timestamp ("" for GitHub)
	header   http.Header
	body     []byte
}

// newDelivery signs body as the provider does, at now.
func newDelivery(provider, id string, now time.Time, body []byte) delivery {
	d := delivery{provider: provider, id: id, body: body, header: http.Header{}}
	d.header.Set("Content-Type", "application/json")
	switch provider {
	case "github":
		d.header.Set("User-Agent", "GitHub-Hookshot/hookwise")
		d.header.Set(hwgithub.HeaderEvent, "issues")
		d.header.Set(hwgithub.HeaderDelivery, id)
		d.header.Set(hwgithub.HeaderSignature256, hwgithub.Sign(githubSecret, body))
	case "stripe":
		d.ts = strconv.FormatInt(now.Unix(), 10)
		d.header.Set(hwstripe.HeaderSignature, hwstripe.Sign(stripeSecret, now, body))
	case "slack":
		d.ts = strconv.FormatInt(now.Unix(), 10)
		d.header.Set(hwslack.HeaderTimestamp, d.ts)
		d.header.Set(hwslack.HeaderSignature, hwslack.Sign(slackSecret, now, body))
	default:
		d.ts = strconv.FormatInt(now.Unix(), 10)
		sig, err := hwstandard.Sign(standardSecret, id, now, body)
		if err != nil {
			panic(err)
		}
		d.header.Set("webhook-id", id)
		d.header.Set("webhook-timestamp", d.ts)
		d.header.Set("webhook-signature", sig)
	}
	return d
}

// request returns a POST of d to /hooks whose body can be rewound.
func (d delivery) request() (*http.Request, *rewindBody) {
	rb := &rewindBody{}
	rb.Reset(d.body)
	r, err := http.NewRequest(http.MethodPost, "http://example.com/hooks", nil)
	if err != nil {
		panic(err)
	}
	r.Header = d.header.Clone()
	r.Body = rb
	r.ContentLength = int64(len(d.body))
	return r, rb
}

// rewindBody is a request body that is reset to the start of a byte slice
// before each use, so that a benchmark reuses one *http.Request without an
// allocation per iteration.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// newProvider returns Hookwise's provider for name, with the real clock.
func newProvider(name string) receiver.Provider {
	var (
		p   receiver.Provider
		err error
	)
	switch name {
	case "github":
		p, err = hwgithub.New(githubSecret)
	case "stripe":
		p, err = hwstripe.New(stripeSecret)
	case "slack":
		p, err = hwslack.New(slackSecret)
	default:
		p, err = hwstandard.New(standardSecret)
	}
	if err != nil {
		panic(err)
	}
	return p
}

// handledType is the type Hookwise's Parse gives the deliveries of
// jsonBody, which the pipeline benchmarks register a handler for.
var handledType = map[string]string{
	"github":   "issues.opened",
	"stripe":   "invoice.paid",
	"slack":    "app_mention",
	"standard": "user.created",
}

// standardKey is the HMAC key of standardSecret (the base64 after whsec_).
var standardKey = func() []byte {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(standardSecret, "whsec_"))
	if err != nil {
		panic(err)
	}
	return k
}()

var dot = []byte(".")

// floor is the least any verifier must do: decode the signature, compute
// HMAC-SHA256 over the signed bytes and compare in constant time, written
// the obvious way (hmac.New per call, the signed pieces written in turn,
// never concatenated). It is handed the signature and timestamp already cut
// from their headers, so it does no header parsing and no timestamp check:
// a strict lower bound for the provider's Verify.
type floor struct {
	key    []byte
	prefix []byte // written before the body ("t." / "v0:t:" / "id.t.")
	sig    string // the encoded signature
	b64    bool   // sig is base64 (Standard Webhooks), else hex
}

func newFloor(d delivery) floor {
	switch d.provider {
	case "github":
		return floor{key: []byte(githubSecret), sig: strings.TrimPrefix(d.header.Get(hwgithub.HeaderSignature256), "sha256=")}
	case "stripe":
		_, v1, _ := strings.Cut(d.header.Get(hwstripe.HeaderSignature), ",v1=")
		return floor{key: []byte(stripeSecret), prefix: []byte(d.ts + "."), sig: v1}
	case "slack":
		return floor{key: []byte(slackSecret), prefix: []byte("v0:" + d.ts + ":"), sig: strings.TrimPrefix(d.header.Get(hwslack.HeaderSignature), "v0=")}
	default:
		return floor{key: standardKey, prefix: []byte(d.id + "." + d.ts + "."), sig: strings.TrimPrefix(d.header.Get("webhook-signature"), "v1,"), b64: true}
	}
}

// verify reports whether the signature matches body.
func (f floor) verify(body []byte) bool {
	var (
		want []byte
		err  error
	)
	if f.b64 {
		want, err = base64.StdEncoding.DecodeString(f.sig)
	} else {
		want, err = hex.DecodeString(f.sig)
	}
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, f.key)
	m.Write(f.prefix)
	m.Write(body)
	return hmac.Equal(m.Sum(nil), want)
}
