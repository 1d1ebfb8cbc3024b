package receiver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// FuzzReadBounded reads arbitrary bodies under arbitrary declared lengths
// and limits: a body is returned whole only when it fits the limit and
// matches its declared length, and the buffer reserved is never more than
// the limit, nor more than twice the body (beyond the first small buffer).
func FuzzReadBounded(f *testing.F) {
	f.Add([]byte(""), int64(0), int64(10), false)
	f.Add([]byte("hello"), int64(5), int64(5), false)
	f.Add([]byte("hello"), int64(-1), int64(4), true)
	f.Add(bytes.Repeat([]byte("a"), bodyInitialCap+1), int64(-1), int64(3*bodyInitialCap), true)
	f.Add(bytes.Repeat([]byte("a"), 3*bodyInitialCap), int64(3*bodyInitialCap), int64(3*bodyInitialCap), false)
	f.Add([]byte("abc"), int64(4), int64(100), false)
	f.Add([]byte("abcd"), int64(3), int64(100), false)
	f.Fuzz(func(t *testing.T, body []byte, declared, limit int64, oneByte bool) {
		if limit <= 0 || limit > 1<<20 || declared < -1 {
			return
		}
		var rd io.Reader = bytes.NewReader(body)
		if oneByte {
			rd = iotest.OneByteReader(rd)
		}
		req := httptest.NewRequest(http.MethodPost, "/", rd)
		req.ContentLength = declared
		var reserved int64
		got, err := readBounded(httptest.NewRecorder(), req, limit, func(n int64) error {
			require.Positive(t, n, "grow")
			reserved += n
			return nil
		})
		ok := int64(len(body)) <= limit && (declared < 0 || declared == int64(len(body)))
		require.Equal(t, ok, err == nil, "body %d bytes, declared %d, limit %d: err %v", len(body), declared, limit, err)
		if err == nil {
			require.True(t, bytes.Equal(got, body), "read %d bytes, want %d", len(got), len(body))
		}
		require.LessOrEqual(t, reserved, limit, "reserved for a %d-byte body", len(body))
		require.LessOrEqual(t, reserved, max(2*int64(len(body))+1, bodyInitialCap), "reserved for a %d-byte body", len(body))
		if err == nil {
			require.Equal(t, reserved, int64(cap(got)), "capacity vs reserved")
		}
	})
}
