package providertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"
)

// Vector is one known-answer vector of the shared vectors file
// (providers/testdata/vectors.json): a request as the sender sent it, the
// secret or key and the clock to verify it with, and the expected outcome.
type Vector struct {
	ID        string            `json:"id"`
	Provider  string            `json:"provider"`
	Kind      string            `json:"kind"` // "signature", "token" or "challenge"
	Secret    string            `json:"secret"`
	PublicKey string            `json:"public_key"`
	Method    string            `json:"method"` // "" means POST
	URL       string            `json:"url"`    // "" means DefaultURL
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	SignedAt  int64             `json:"signed_at_unix"`
	NowUnix   int64             `json:"now_unix"`
	Tolerance int64             `json:"tolerance_seconds"`
	Extra     map[string]any    `json:"extra"`
	Expect    string            `json:"expect"` // "valid" or "invalid"
	// ExpectResponse, for handshakes, is the exact answer the receiver must
	// send.
	ExpectResponse *Response `json:"expect_response"`
}

// Response is the answer expected from the receiver for a handshake.
type Response struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Body        string `json:"body"`
}

// DefaultURL is the URL of the requests the suite builds when neither a
// sample nor a vector names one.
const DefaultURL = "https://hooks.example.com/webhooks"

// LoadVectors returns the vectors of the named providers from the JSON file
// at path (relative to the test's package directory, usually
// "../testdata/vectors.json" for the bundled providers). It fails the test
// when the file cannot be read or holds no vector of those providers.
func LoadVectors(t testing.TB, path string, providers ...string) []Vector {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("providertest: read vectors: %v", err)
	}
	var all []Vector
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatalf("providertest: decode %s: %v", path, err)
	}
	var out []Vector
	for _, v := range all {
		if slices.Contains(providers, v.Provider) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("providertest: no vectors for %v in %s", providers, path)
	}
	return out
}

// Valid reports whether the vector must verify.
func (v Vector) Valid() bool { return v.Expect == "valid" }

// Request returns the vector's request and raw body.
func (v Vector) Request() (*http.Request, []byte) {
	body := []byte(v.Body)
	method, url := v.Method, v.URL
	if method == "" {
		method = http.MethodPost
	}
	if url == "" {
		url = DefaultURL
	}
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		panic("providertest: vector " + v.ID + ": " + err.Error())
	}
	for k, val := range v.Headers {
		r.Header.Set(k, val)
	}
	return r, body
}

// Clock returns a clock stopped at now_unix, or time.Now when the vector
// has none.
func (v Vector) Clock() func() time.Time {
	if v.NowUnix == 0 {
		return time.Now
	}
	return func() time.Time { return time.Unix(v.NowUnix, 0) }
}

// ToleranceDuration returns tolerance_seconds as a duration (0 when absent).
func (v Vector) ToleranceDuration() time.Duration {
	return time.Duration(v.Tolerance) * time.Second
}

// Config returns the configuration the vector is verified with: its secret
// or public key, clock and tolerance.
func (v Vector) Config() Config {
	c := Config{Now: v.Clock(), Tolerance: v.ToleranceDuration()}
	if v.Secret != "" {
		c.Secrets = []string{v.Secret}
	}
	if v.PublicKey != "" {
		c.PublicKeys = []string{v.PublicKey}
	}
	return c
}
