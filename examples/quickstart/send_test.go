package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSendReportsTheAnswerAndFailsOnRefusal: send prints the status once
// and returns an error (the quickstart exits 1) for a non-2xx answer.
func TestSendReportsTheAnswerAndFailsOnRefusal(t *testing.T) {
	var status int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status == http.StatusOK {
			w.WriteHeader(status)
			return
		}
		http.Error(w, http.StatusText(status), status)
	}))
	defer srv.Close()

	status = http.StatusOK
	var out bytes.Buffer
	require.NoError(t, send([]string{"-url", srv.URL, "-id", "evt_1", "stripe"}, &out))
	assert.Equal(t, "stripe /webhooks/stripe -> 200 OK\n", out.String())

	status = http.StatusUnauthorized
	out.Reset()
	err := send([]string{"-url", srv.URL, "-forge", "github"}, &out)
	assert.ErrorIs(t, err, errNotAccepted)
	assert.Equal(t, "github /webhooks/github -> 401 Unauthorized\n", out.String(), "the status text printed once")
}
