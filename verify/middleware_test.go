package verify_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/verify"
)

func TestMiddleware(t *testing.T) {
	v, err := verify.NewScheme(verify.Scheme{Hash: sha256.New, Secrets: [][]byte{[]byte("k")}, Header: "X-Sig", Prefix: "sha256="})
	require.NoError(t, err)
	var got []byte
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	h := verify.Middleware(v, verify.MaxBodyBytes(16))(next)
	sign := func(b []byte) string { return "sha256=" + hex.EncodeToString(v.HMAC().Sign(b)) }
	for _, tt := range []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"verified", []byte(`{"a":1}`), sign([]byte(`{"a":1}`)), http.StatusNoContent},
		{"forged", []byte(`{"a":1}`), sign([]byte(`{"a":2}`)), http.StatusUnauthorized},
		{"unsigned", []byte(`{"a":1}`), "", http.StatusUnauthorized},
		{"oversized", bytes.Repeat([]byte("a"), 17), sign(bytes.Repeat([]byte("a"), 17)), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(tt.body))
			if tt.sig != "" {
				r.Header.Set("X-Sig", tt.sig)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tt.want, w.Code, "status")
			if tt.want == http.StatusNoContent {
				assert.Equal(t, tt.body, got, "next handler must read the verified body")
			} else {
				assert.Nil(t, got, "next handler ran for a rejected request")
			}
		})
	}
}
