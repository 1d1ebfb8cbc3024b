// Package vectortest loads the known-answer vectors of
// providers/testdata/vectors.json for the providers' tests.
package vectortest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Vector is one entry of vectors.json (the fields the providers use).
type Vector struct {
	ID        string            `json:"id"`
	Provider  string            `json:"provider"`
	Kind      string            `json:"kind"`
	Secret    string            `json:"secret"`
	PublicKey string            `json:"public_key"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	NowUnix   int64             `json:"now_unix"`
	Tolerance int64             `json:"tolerance_seconds"`
	Expect    string            `json:"expect"`
}

// Load returns the vectors of the given providers from
// ../testdata/vectors.json (relative to the test's package directory). It
// fails the test when none is found.
func Load(t testing.TB, providers ...string) []Vector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all []Vector
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatal(err)
	}
	var out []Vector
	for _, v := range all {
		if slices.Contains(providers, v.Provider) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no vectors for %v", providers)
	}
	return out
}

// Valid reports whether the vector must verify.
func (v Vector) Valid() bool { return v.Expect == "valid" }

// Request returns the vector's request and body.
func (v Vector) Request() (*http.Request, []byte) {
	body := []byte(v.Body)
	r, err := http.NewRequest(http.MethodPost, "https://example.com/webhooks", bytes.NewReader(body))
	if err != nil {
		panic(err)
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
