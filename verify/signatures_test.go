package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/verify"
)

// entryList returns n space-separated "v1," entries, the i-th signing i.
func entryList(n int) string {
	entries := make([]string, n)
	for i := range entries {
		entries[i] = "v1," + verify.Base64.Encode(bytes.Repeat([]byte{byte(i)}, 32))
	}
	return strings.Join(entries, " ")
}

func TestParseSignatures(t *testing.T) {
	a := bytes.Repeat([]byte{0xaa}, 32)
	b := bytes.Repeat([]byte{0xbb}, 64)
	var s verify.Signatures
	list := "v2,xx v1," + verify.Base64.Encode(a) + "\tv1a," + verify.Base64.Encode(b) + "  v1," + verify.Base64.Encode(a) +
		" v1,@@ v1, v1a," + verify.Base64.Encode(a) + " v1," + verify.Base64.Encode(bytes.Repeat([]byte{1}, 65))
	require.NoError(t, verify.ParseSignatures(&s, list, " ", verify.Base64, "v1,", "v1a,"))
	require.Equal(t, 3, s.Len(), "duplicates are kept once, malformed and over-long entries skipped")
	for i, want := range []struct {
		sig []byte
		tag int
	}{{a, 0}, {b, 1}, {a, 1}} {
		sig, tag := s.At(i)
		assert.Equal(t, want.sig, sig, "entry %d", i)
		assert.Equal(t, want.tag, tag, "entry %d", i)
	}

	// Separators: none (one entry), a string, white space.
	require.NoError(t, verify.ParseSignatures(&s, " sha256="+strings.Repeat("ab", 32)+" ", "", verify.Hex, "sha256="))
	assert.Equal(t, 1, s.Len())
	require.NoError(t, verify.ParseSignatures(&s, "t=1, v1=00,v1=01,,v0=02", ",", verify.Hex, "v1="))
	assert.Equal(t, 2, s.Len())

	// Nothing readable.
	for _, h := range []string{"", "   ", "v2,abc", "v1,", "v1,!!!"} {
		assert.ErrorIs(t, verify.ParseSignatures(&s, h, " ", verify.Base64, "v1,"), verify.ErrMalformedSignature, "%q", h)
		assert.Zero(t, s.Len())
	}
}

// TestParseSignaturesBounds: MaxSignatureEntries entries and
// MaxSignatureHeaderBytes bytes are accepted, one more of either is not,
// whatever the entries are (unknown prefixes and duplicates count).
func TestParseSignaturesBounds(t *testing.T) {
	var s verify.Signatures
	require.NoError(t, verify.ParseSignatures(&s, entryList(verify.MaxSignatureEntries), " ", verify.Base64, "v1,"))
	assert.Equal(t, verify.MaxSignatureEntries, s.Len())

	over := entryList(verify.MaxSignatureEntries + 1)
	err := verify.ParseSignatures(&s, over, " ", verify.Base64, "v1,")
	assert.ErrorIs(t, err, verify.ErrSignatureHeaderTooLarge)
	assert.ErrorIs(t, err, verify.ErrVerification)
	assert.Zero(t, s.Len())
	dup := strings.Repeat("v1,"+verify.Base64.Encode(make([]byte, 32))+" ", verify.MaxSignatureEntries+1)
	assert.ErrorIs(t, verify.ParseSignatures(&s, dup, " ", verify.Base64, "v1,"), verify.ErrSignatureHeaderTooLarge)
	unknown := entryList(1) + strings.Repeat(" x", verify.MaxSignatureEntries)
	assert.ErrorIs(t, verify.ParseSignatures(&s, unknown, " ", verify.Base64, "v1,"), verify.ErrSignatureHeaderTooLarge)

	one := entryList(1)
	atBound := one + strings.Repeat(" ", verify.MaxSignatureHeaderBytes-len(one))
	require.Len(t, atBound, verify.MaxSignatureHeaderBytes)
	assert.NoError(t, verify.ParseSignatures(&s, atBound, " ", verify.Base64, "v1,"))
	assert.ErrorIs(t, verify.ParseSignatures(&s, atBound+" ", " ", verify.Base64, "v1,"), verify.ErrSignatureHeaderTooLarge)
	assert.ErrorIs(t, verify.MatchList(mustHMAC(t), verify.Base64, atBound+" ", " ", "v1,", []byte("x")), verify.ErrSignatureHeaderTooLarge)
}

func mustHMAC(t testing.TB) *verify.HMAC {
	m, err := verify.NewHMAC(sha256.New, []byte("k"), []byte("k2"))
	require.NoError(t, err)
	return m
}

func TestHMACMatchAny(t *testing.T) {
	m := mustHMAC(t)
	body := []byte("body")
	good := m.Sign(body)
	second := refMAC(sha256.New, "k2", "body")
	var s verify.Signatures
	list := entryList(5) + " v1a," + verify.Base64.Encode(good) + " v1," + verify.Base64.Encode(second)
	require.NoError(t, verify.ParseSignatures(&s, list, " ", verify.Base64, "v1,", "v1a,"))
	assert.True(t, m.MatchAny(&s, 0, body), "second secret's MAC among v1 entries")
	assert.True(t, m.MatchAny(&s, 1, []byte("bo"), []byte("dy")), "v1a entry, parts concatenated")
	assert.False(t, m.MatchAny(&s, 0, []byte("bodY")))
	assert.False(t, m.MatchAny(&s, 2, body), "no entry of that tag")

	// Entries of the wrong size cost nothing.
	require.NoError(t, verify.ParseSignatures(&s, "v1,AAAA v1,"+verify.Base64.Encode(make([]byte, 64)), " ", verify.Base64, "v1,"))
	stop := verify.CountCost()
	assert.False(t, m.MatchAny(&s, 0, body))
	assert.Zero(t, stop())
}

func TestEd25519MatchAny(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	pub2, _, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 64)))
	v, err := verify.NewEd25519(pub2, pub)
	require.NoError(t, err)
	msg := []byte("msg_1.1614265330.{}")
	sig := ed25519.Sign(priv, msg)
	var s verify.Signatures
	list := "v1a," + verify.Base64.Encode(make([]byte, 64)) + " v1a," + verify.Base64.Encode(sig) + " v1a," + verify.Base64.Encode(sig)
	require.NoError(t, verify.ParseSignatures(&s, list, " ", verify.Base64, "v1a,"))
	require.Equal(t, 2, s.Len())
	stop := verify.CountCost()
	assert.True(t, v.MatchAny(&s, 0, []byte("msg_1."), []byte("1614265330."), []byte("{}")))
	assert.Equal(t, verify.Cost{Ed25519s: 4, Ed25519Bytes: 4 * int64(len(msg)), Messages: 1}, stop(),
		"2 keys x 2 distinct signatures, one message")
	assert.False(t, v.MatchAny(&s, 0, []byte("msg_1.1614265330.{ }")))
	assert.False(t, v.MatchAny(&s, 1, msg))
	assert.False(t, verify.TooManyEd25519(&s, 0))

	// More than MaxEd25519Signatures distinct signatures: nothing verified,
	// even with the valid one among them.
	list = "v1a," + verify.Base64.Encode(sig)
	for i := range verify.MaxEd25519Signatures {
		list += " v1a," + verify.Base64.Encode(bytes.Repeat([]byte{byte(i)}, 64))
	}
	require.NoError(t, verify.ParseSignatures(&s, list, " ", verify.Base64, "v1a,"))
	assert.True(t, verify.TooManyEd25519(&s, 0))
	stop = verify.CountCost()
	assert.False(t, v.MatchAny(&s, 0, msg))
	assert.Zero(t, stop())
}

// TestSchemeBounds: a Scheme, with no code of its own, rejects an
// over-bound header without MAC work and MACs once per secret within it.
func TestSchemeBounds(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	v, err := verify.NewScheme(verify.Scheme{
		Hash: sha256.New, Secrets: [][]byte{[]byte("s1"), []byte("s2")}, Header: "X-Sig", Prefix: "v1,",
		Encoding: verify.Base64, Separator: " ", TimestampHeader: "X-Ts", Now: func() time.Time { return now },
		Content: verify.TimestampBody("", "."),
	})
	require.NoError(t, err)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := bytes.Repeat([]byte("b"), 1000)
	req := func(list string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("X-Sig", list)
		r.Header.Set("X-Ts", ts)
		return r
	}
	for n := 1; n <= verify.MaxSignatureEntries; n++ {
		stop := verify.CountCost()
		assert.ErrorIs(t, v.Verify(req(entryList(n)), body), verify.ErrSignatureMismatch)
		assert.Equal(t, verify.Cost{MACs: 2, MACBytes: 2 * int64(len(ts)+1+len(body))}, stop(), "n=%d", n)
	}
	stop := verify.CountCost()
	valid := "v1," + verify.Base64.Encode(refMAC(sha256.New, "s2", ts, ".", string(body)))
	assert.ErrorIs(t, v.Verify(req(entryList(verify.MaxSignatureEntries)+" "+valid), body), verify.ErrSignatureHeaderTooLarge)
	assert.Zero(t, stop())
	assert.NoError(t, v.Verify(req(entryList(verify.MaxSignatureEntries-1)+" "+valid), body))
}

// TestMatchListAlloc: checking a list of signatures allocates nothing
// (asserted without -race, whose sync.Pool drops items at random).
func TestMatchListAlloc(t *testing.T) {
	m := mustHMAC(t)
	body := bytes.Repeat([]byte("x"), 4096)
	list := entryList(verify.MaxSignatureEntries-1) + " v1," + verify.Base64.Encode(m.Sign(body))
	require.NoError(t, verify.MatchList(m, verify.Base64, list, " ", "v1,", body))
	allocs := testing.AllocsPerRun(50, func() { _ = verify.MatchList(m, verify.Base64, list, " ", "v1,", body) })
	hexList := "v1=" + strings.Repeat("ab", 32)
	hexAllocs := testing.AllocsPerRun(50, func() { _ = verify.MatchList(m, verify.Hex, hexList, ",", "v1=", body) })
	if raceEnabled {
		t.Logf("-race build: %v and %v allocations per MatchList; asserted without -race", allocs, hexAllocs)
		return
	}
	assert.Zero(t, allocs)
	assert.Zero(t, hexAllocs)
}

// TestEd25519MatchAnyAlloc: Ed25519 list checks allocate nothing once the
// message pool is warm.
func TestEd25519MatchAnyAlloc(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	v, err := verify.NewEd25519(pub)
	require.NoError(t, err)
	msg := bytes.Repeat([]byte("m"), 2048)
	var s verify.Signatures
	require.NoError(t, verify.ParseSignatures(&s, "v1a,"+verify.Base64.Encode(ed25519.Sign(priv, msg)), " ", verify.Base64, "v1a,"))
	require.True(t, v.MatchAny(&s, 0, msg))
	allocs := testing.AllocsPerRun(20, func() { v.MatchAny(&s, 0, msg[:10], msg[10:]) })
	if raceEnabled {
		t.Logf("-race build: %v allocations per MatchAny; asserted without -race", allocs)
		return
	}
	assert.Zero(t, allocs)
}

// FuzzParseSignatures: nothing panics, the bounds hold exactly, and every
// signature kept is a decoded entry of the header.
func FuzzParseSignatures(f *testing.F) {
	for _, s := range []string{
		"", " ", "v1,AAAA", "v1a,AAAA v1,AAAA", entryList(verify.MaxSignatureEntries), entryList(verify.MaxSignatureEntries + 1),
		entryList(1) + strings.Repeat(" ", verify.MaxSignatureHeaderBytes), "v1,\t v1,==== v1,", strings.Repeat("x ", 20),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		var s verify.Signatures
		err := verify.ParseSignatures(&s, header, " ", verify.Base64, "v1,", "v1a,")
		fields := strings.Fields(header)
		if len(header) > verify.MaxSignatureHeaderBytes || len(fields) > verify.MaxSignatureEntries {
			require.ErrorIs(t, err, verify.ErrSignatureHeaderTooLarge, "over-bound header of %d bytes, %d entries", len(header), len(fields))
			require.Zero(t, s.Len(), "over-bound header of %d bytes, %d entries: signatures kept", len(header), len(fields))
			return
		}
		if err != nil {
			require.ErrorIs(t, err, verify.ErrMalformedSignature)
			require.Zero(t, s.Len())
			return
		}
		require.LessOrEqual(t, s.Len(), len(fields))
		for i := 0; i < s.Len(); i++ {
			sig, tag := s.At(i)
			found := false
			for _, f := range fields {
				if b64, ok := strings.CutPrefix(f, []string{"v1,", "v1a,"}[tag]); ok {
					d, derr := verify.Base64.Decode(nil, b64)
					found = found || (derr == nil && bytes.Equal(d, sig))
				}
			}
			require.True(t, found, "kept %x with tag %d, not in %q", sig, tag, header)
		}
	})
}
