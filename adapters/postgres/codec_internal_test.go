package postgres

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Headers and meta round-trip byte for byte, bytes outside UTF-8 and NULs
// included; nil stays nil and empty stays empty.
func TestCodecRoundTrip(t *testing.T) {
	h := http.Header{"X-Bin": {"\xff\x00\xfe", ""}, "Empty": {}, "": {"no name"}}
	got, err := decodeHeader(encodeHeader(h))
	require.NoError(t, err)
	assert.Equal(t, h, got)
	got, err = decodeHeader(encodeHeader(nil))
	require.NoError(t, err)
	assert.Nil(t, got)
	got, err = decodeHeader(encodeHeader(http.Header{}))
	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)

	m := map[string]string{"traceparent": "00-abc", "\x00": "\xff"}
	gm, err := decodeMeta(encodeMeta(m))
	require.NoError(t, err)
	assert.Equal(t, m, gm)
	gm, err = decodeMeta(nil)
	require.NoError(t, err)
	assert.Nil(t, gm)
}

// Corrupt encodings are refused with ErrMalformedRow, never a panic or an
// allocation larger than the input.
func TestCodecRefusesCorrupt(t *testing.T) {
	for _, b := range [][]byte{
		{}, {2, 0}, {1}, {1, 1}, {1, 1, 5, 'a'}, {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		{1, 0, 'x'}, // trailing bytes
	} {
		_, err := decodeHeader(b)
		assert.ErrorIs(t, err, ErrMalformedRow, "header %q", b)
		_, err = decodeMeta(b)
		assert.ErrorIs(t, err, ErrMalformedRow, "meta %q", b)
	}
}

// Times are kept to the nanosecond in a timestamptz and an integer.
func TestSplitTime(t *testing.T) {
	at := time.Date(2026, 12, 1, 2, 3, 4, 123456789, time.FixedZone("x", 3600))
	us, ns := splitTime(at)
	require.NotNil(t, us)
	u := us.(time.Time)
	assert.True(t, joinTime(&u, ns).Equal(at))
	z, zns := splitTime(time.Time{})
	assert.Nil(t, z)
	assert.True(t, joinTime(nil, zns).IsZero())
}

// Error texts stored in text columns are bounded and made valid.
func TestErrorTextBounded(t *testing.T) {
	long := make([]byte, 3*MaxErrorBytes)
	for i := range long {
		long[i] = 'x'
	}
	long[10] = 0
	long[11] = 0xff
	s := cleanText(string(long))
	assert.LessOrEqual(t, len(s), MaxErrorBytes)
	assert.True(t, textOK(s))
	assert.Equal(t, ErrUnstorable, checkText("ok", "a\x00b"))
	assert.Equal(t, ErrUnstorable, checkText("\xff"))
	assert.NoError(t, checkText("ok", ""))
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add(encodeHeader(http.Header{"A": {"b", "c"}}))
	f.Add([]byte{1, 3, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err != nil {
			return
		}
		again, err := decodeHeader(encodeHeader(h))
		if err != nil || len(again) != len(h) {
			t.Fatalf("re-encoding a decoded header changed it: %v", err)
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(map[string]string{"k": "v"}))
	f.Add([]byte{1, 1, 1, 'k', 1, 'v'})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		again, err := decodeMeta(encodeMeta(m))
		if err != nil || len(again) != len(m) {
			t.Fatalf("re-encoding decoded meta changed it: %v", err)
		}
	})
}

// A batch's dedupe completions are sorted by key, their tokens and
// retentions alongside.
func TestSortCompletions(t *testing.T) {
	keys := [][]byte{[]byte("p:c"), []byte("p:a"), []byte("p:b")}
	tokens := []string{"tc", "ta", "tb"}
	rets := []int64{3, 1, 2}
	sortCompletions(keys, tokens, rets)
	assert.Equal(t, [][]byte{[]byte("p:a"), []byte("p:b"), []byte("p:c")}, keys)
	assert.Equal(t, []string{"ta", "tb", "tc"}, tokens)
	assert.Equal(t, []int64{1, 2, 3}, rets)
}
