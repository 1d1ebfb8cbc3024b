package hookgin_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hookgin "github.com/hookwise/hookwise/adapters/gin"
)

// FuzzHandlerPassesRawBody: whatever the body, and whether or not a
// middleware bound it first, the handler behind Handler reads exactly the
// bytes sent, with a Content-Length that matches them.
func FuzzHandlerPassesRawBody(f *testing.F) {
	f.Add([]byte(rawBody), true)
	f.Add([]byte(rawBody), false)
	f.Add([]byte(""), true)
	f.Add([]byte("not json \x00\xff"), true)
	f.Add([]byte(`{"a":1}{"b":2}`), true)
	f.Add(bytes.Repeat([]byte(" "), 4096), true)
	f.Fuzz(func(t *testing.T, body []byte, bind bool) {
		var got []byte
		var length int64
		inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			got, length = b, r.ContentLength
			w.WriteHeader(http.StatusNoContent)
		})
		r := gin.New()
		if bind {
			r.Use(func(c *gin.Context) {
				var v any
				_ = c.ShouldBindBodyWith(&v, binding.JSON) // may fail: the body is the sender's
			})
		}
		r.POST(route, hookgin.Handler(inner))
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, route, bytes.NewReader(body)))
		assert.Equal(t, http.StatusNoContent, w.Code)
		assert.Equal(t, body, got, "body")
		assert.Equal(t, int64(len(body)), length)
	})
}
