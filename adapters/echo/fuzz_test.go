package hookecho_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hookecho "github.com/hookwise/hookwise/adapters/echo"
)

// FuzzHandlerPassesRawBody: whatever the body, behind echo's BodyDump and
// BodyLimit, the handler behind Handler reads exactly the bytes sent.
func FuzzHandlerPassesRawBody(f *testing.F) {
	f.Add([]byte(rawBody))
	f.Add([]byte(""))
	f.Add([]byte("not json \x00\xff"))
	f.Add([]byte(`{"a":1}{"b":2}`))
	f.Add(bytes.Repeat([]byte(" "), 4096))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got []byte
		inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			got = b
			w.WriteHeader(http.StatusNoContent)
		})
		e := echo.New()
		e.Use(middleware.BodyLimit("1M"), middleware.BodyDump(func(echo.Context, []byte, []byte) {}))
		e.POST(route, hookecho.Handler(inner))
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, route, bytes.NewReader(body)))
		assert.Equal(t, http.StatusNoContent, w.Code)
		assert.Equal(t, body, got)
	})
}
