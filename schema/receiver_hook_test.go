package schema

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/receiver"
)

// headerProvider trusts every delivery (verification is not under test)
// and reads the event's ID, type and version from headers.
type headerProvider struct{}

func (headerProvider) Name() string                       { return "standard" }
func (headerProvider) Verify(*http.Request, []byte) error { return nil }
func (headerProvider) Parse(r *http.Request, _ []byte) (provider.Envelope, error) {
	return provider.Envelope{ID: r.Header.Get("X-Id"), Type: r.Header.Get("X-Type"), Version: r.Header.Get("X-Version")}, nil
}

// TestReceiverPassesTheValidatedDocument: a receiver validating after the
// acknowledgement with a Registry (a receiver.ContextValidator) runs the
// handler with the validated document: the handler reads it with
// Document, and the payload is decoded once for both.
func TestReceiverPassesTheValidatedDocument(t *testing.T) {
	reg := Bundled()
	var _ receiver.ContextValidator = reg
	got := make(chan any, 1)
	h := receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		doc, ok := Document(ctx, e)
		if !ok {
			got <- nil
			return nil
		}
		got <- doc.(map[string]any)["data"].(map[string]any)["id"]
		return nil
	})
	rc, err := receiver.New(headerProvider{}, h, receiver.WithValidator(reg, receiver.AcknowledgeInvalid))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	})
	body := []byte(`{"type":"user.created","timestamp":"2024-06-20T10:00:00Z","data":{"id":"u_1","email":"a@example.com"}}`)
	dec, _ := counts(func() {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Id", "msg_1")
		req.Header.Set("X-Type", "user.created")
		req.Header.Set("X-Version", "v1")
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, req)
		require.Equal(t, http.StatusOK, w.Code)
		select {
		case v := <-got:
			assert.Equal(t, "u_1", v, "the handler read the validated document")
		case <-time.After(5 * time.Second):
			t.Fatal("handler not run")
		}
	})
	assert.Equal(t, int64(1), dec, "one decode for validation and handler")
}
