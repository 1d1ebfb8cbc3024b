package intake_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/intake"
)

func pfx(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func request(remote string, header map[string][]string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hook", nil)
	r.RemoteAddr = remote
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

func xff(vs ...string) map[string][]string { return map[string][]string{"X-Forwarded-For": vs} }
func fwd(vs ...string) map[string][]string { return map[string][]string{"Forwarded": vs} }

func TestClientIPXForwardedFor(t *testing.T) {
	res, err := intake.NewResolver(intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8", "fd00::/8")})
	require.NoError(t, err)

	cases := []struct {
		name   string
		remote string
		header map[string][]string
		want   string
		err    error
	}{
		{"untrusted peer, no header", "203.0.113.9:5555", nil, "203.0.113.9", nil},
		{"untrusted peer, spoofed header ignored", "203.0.113.9:5555", xff("140.82.115.1"), "203.0.113.9", nil},
		{"untrusted peer, malformed header ignored", "203.0.113.9:5555", xff("garbage,,"), "203.0.113.9", nil},
		{"trusted peer, no header: the peer", "10.1.1.1:80", nil, "10.1.1.1", nil},
		{"trusted peer, one hop", "10.1.1.1:80", xff("140.82.115.1"), "140.82.115.1", nil},
		{"client-supplied prefix left of the real client is not read", "10.1.1.1:80", xff("1.2.3.4, 140.82.115.1"), "140.82.115.1", nil},
		{"trusted hops skipped from the right", "10.1.1.1:80", xff("1.2.3.4, 140.82.115.1, 10.2.2.2, 10.3.3.3"), "140.82.115.1", nil},
		{"junk left of the client is never parsed", "10.1.1.1:80", xff("not-an-ip, 140.82.115.1"), "140.82.115.1", nil},
		{"several header lines are one list", "10.1.1.1:80", xff("1.2.3.4", "140.82.115.1, 10.2.2.2"), "140.82.115.1", nil},
		{"all hops trusted: leftmost", "10.1.1.1:80", xff("10.9.9.9, 10.2.2.2"), "10.9.9.9", nil},
		{"entry with port", "10.1.1.1:80", xff("140.82.115.1:4711"), "140.82.115.1", nil},
		{"IPv6 entry", "10.1.1.1:80", xff("2606:50c0::1"), "2606:50c0::1", nil},
		{"IPv6 entry bracketed with port", "10.1.1.1:80", xff("[2606:50c0::1]:4711"), "2606:50c0::1", nil},
		{"IPv6 entry bracketed", "10.1.1.1:80", xff("[2606:50c0::1]"), "2606:50c0::1", nil},
		{"IPv4-mapped entry unmapped", "10.1.1.1:80", xff("::ffff:140.82.115.1"), "140.82.115.1", nil},
		{"IPv6 peer trusted", "[fd00::1]:80", xff("140.82.115.1"), "140.82.115.1", nil},
		{"IPv4-mapped peer trusted", "[::ffff:10.1.1.1]:80", xff("140.82.115.1"), "140.82.115.1", nil},
		{"zoned peer", "[fe80::1%eth0]:80", nil, "fe80::1%eth0", nil},
		{"zoned trusted peer", "[fd00::1%eth0]:80", xff("140.82.115.1"), "140.82.115.1", nil},
		{"zoned entry kept", "10.1.1.1:80", xff("fe80::2%eth1"), "fe80::2%eth1", nil},
		{"bare remote address", "203.0.113.9", nil, "203.0.113.9", nil},
		{"tabs and spaces", "10.1.1.1:80", xff(" \t140.82.115.1\t "), "140.82.115.1", nil},
		{"malformed rightmost entry refused", "10.1.1.1:80", xff("140.82.115.1, bogus"), "", intake.ErrBadAddress},
		{"malformed entry after trusted hop refused", "10.1.1.1:80", xff("1.2.3.4, bogus, 10.2.2.2"), "", intake.ErrBadAddress},
		{"empty entry refused", "10.1.1.1:80", xff("140.82.115.1,,"), "", intake.ErrBadAddress},
		{"empty header refused", "10.1.1.1:80", xff(""), "", intake.ErrBadAddress},
		{"unknown refused", "10.1.1.1:80", xff("unknown"), "", intake.ErrBadAddress},
		{"host name refused", "10.1.1.1:80", xff("example.com"), "", intake.ErrBadAddress},
		{"bad remote address", "pipe", nil, "", intake.ErrBadAddress},
		{"empty remote address", "", xff("140.82.115.1"), "", intake.ErrBadAddress},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := res.ClientIP(request(tc.remote, tc.header))
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				assert.False(t, got.IsValid())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.String())
		})
	}
}

func TestClientIPForwarded(t *testing.T) {
	res, err := intake.NewResolver(intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8"), Header: "forwarded"})
	require.NoError(t, err)

	cases := []struct {
		name   string
		header map[string][]string
		want   string
		err    error
	}{
		{"one element", fwd("for=192.0.2.60;proto=https;by=203.0.113.43"), "192.0.2.60", nil},
		{"quoted IPv6 with port", fwd(`for="[2001:db8:cafe::17]:4711"`), "2001:db8:cafe::17", nil},
		{"quoted IPv4 with port", fwd(`for="192.0.2.60:8080"`), "192.0.2.60", nil},
		{"case-insensitive name", fwd("For=192.0.2.60"), "192.0.2.60", nil},
		{"trusted hops skipped", fwd("for=198.51.100.1, for=192.0.2.60, for=10.2.2.2"), "192.0.2.60", nil},
		{"several lines", fwd("for=198.51.100.1", "for=192.0.2.60;proto=https"), "192.0.2.60", nil},
		{"comma inside quotes is not a separator", fwd(`for=192.0.2.60;host="a,b"`), "192.0.2.60", nil},
		{"escaped quote", fwd(`for=192.0.2.60;ext="a\"b"`), "192.0.2.60", nil},
		{"X-Forwarded-For ignored when Forwarded is configured", xff("192.0.2.99"), "10.1.1.1", nil},
		{"unknown refused", fwd("for=unknown"), "", intake.ErrBadAddress},
		{"obfuscated refused", fwd("for=_hidden"), "", intake.ErrBadAddress},
		{"element without for refused", fwd("for=192.0.2.60, proto=https"), "", intake.ErrBadAddress},
		{"duplicate for refused", fwd("for=192.0.2.60;for=192.0.2.61"), "", intake.ErrBadAddress},
		{"unterminated quote refused", fwd(`for="192.0.2.60`), "", intake.ErrBadAddress},
		{"unquoted IPv6 refused", fwd("for=[2001:db8::1]"), "", intake.ErrBadAddress},
		{"pair without value refused", fwd("for="), "", intake.ErrBadAddress},
		{"garbage refused", fwd("192.0.2.60"), "", intake.ErrBadAddress},
		{"control byte in quotes refused", fwd("for=\"192.0.2.60\x01\""), "", intake.ErrBadAddress},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := res.ClientIP(request("10.1.1.1:80", tc.header))
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.String())
		})
	}
}

func TestClientIPWithoutTrustedProxiesIgnoresHeaders(t *testing.T) {
	for _, res := range []*intake.Resolver{nil, mustResolver(t, intake.ResolverConfig{})} {
		got, err := res.ClientIP(request("10.1.1.1:80", xff("140.82.115.1")))
		require.NoError(t, err)
		assert.Equal(t, "10.1.1.1", got.String())
	}
}

func mustResolver(t *testing.T, cfg intake.ResolverConfig) *intake.Resolver {
	t.Helper()
	r, err := intake.NewResolver(cfg)
	require.NoError(t, err)
	return r
}

func TestClientIPHeaderByteBound(t *testing.T) {
	res := mustResolver(t, intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8"), MaxHeaderBytes: 32})
	at := "192.0.2.1, 192.0.2.22, 10.0.0.11" // 32 bytes
	require.Len(t, at, 32)
	got, err := res.ClientIP(request("10.1.1.1:80", xff(at)))
	require.NoError(t, err)
	assert.Equal(t, "192.0.2.22", got.String())

	_, err = res.ClientIP(request("10.1.1.1:80", xff(" "+at)))
	assert.ErrorIs(t, err, intake.ErrHeaderTooLarge)

	// Lines count together, with the comma that joins them.
	_, err = res.ClientIP(request("10.1.1.1:80", xff("192.0.2.1 ", "192.0.2.22, 10.0.0.11")))
	require.NoError(t, err, "10 + 1 + 21 = 32 bytes")
	_, err = res.ClientIP(request("10.1.1.1:80", xff("192.0.2.1  ", "192.0.2.22, 10.0.0.11")))
	assert.ErrorIs(t, err, intake.ErrHeaderTooLarge, "11 + 1 + 21 = 33 bytes")

	// The default bound.
	def := mustResolver(t, intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8"), MaxHops: 10000})
	long := strings.Repeat(" ", intake.DefaultMaxHeaderBytes-len("1.2.3.4")) + "1.2.3.4"
	_, err = def.ClientIP(request("10.1.1.1:80", xff(long)))
	require.NoError(t, err)
	_, err = def.ClientIP(request("10.1.1.1:80", xff(" "+long)))
	assert.ErrorIs(t, err, intake.ErrHeaderTooLarge)

	// The bound also holds for Forwarded.
	fr := mustResolver(t, intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8"), Header: intake.HeaderForwarded, MaxHeaderBytes: 16})
	_, err = fr.ClientIP(request("10.1.1.1:80", fwd("for=192.0.2.60")))
	require.NoError(t, err)
	_, err = fr.ClientIP(request("10.1.1.1:80", fwd("for=192.0.2.60;a=b")))
	assert.ErrorIs(t, err, intake.ErrHeaderTooLarge)

	// An untrusted peer's oversized header is not even measured.
	_, err = res.ClientIP(request("203.0.113.9:80", xff(strings.Repeat("x", 1<<16))))
	assert.NoError(t, err)
}

func TestClientIPHopBound(t *testing.T) {
	hops := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "10.0.0.1"
		}
		parts[0] = "192.0.2.1"
		return strings.Join(parts, ",")
	}
	res := mustResolver(t, intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8"), MaxHops: 4})
	got, err := res.ClientIP(request("10.1.1.1:80", xff(hops(4))))
	require.NoError(t, err)
	assert.Equal(t, "192.0.2.1", got.String())
	_, err = res.ClientIP(request("10.1.1.1:80", xff(hops(5))))
	assert.ErrorIs(t, err, intake.ErrTooManyHops)

	fr := mustResolver(t, intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8"), Header: intake.HeaderForwarded, MaxHops: 2})
	_, err = fr.ClientIP(request("10.1.1.1:80", fwd("for=192.0.2.1, for=10.0.0.2")))
	require.NoError(t, err)
	_, err = fr.ClientIP(request("10.1.1.1:80", fwd("for=192.0.2.1, for=10.0.0.2, for=10.0.0.3")))
	assert.ErrorIs(t, err, intake.ErrTooManyHops)

	def := mustResolver(t, intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8")})
	_, err = def.ClientIP(request("10.1.1.1:80", xff(hops(intake.DefaultMaxHops))))
	require.NoError(t, err)
	_, err = def.ClientIP(request("10.1.1.1:80", xff(hops(intake.DefaultMaxHops+1))))
	assert.ErrorIs(t, err, intake.ErrTooManyHops)
}

func TestNewResolverConfigErrors(t *testing.T) {
	for name, cfg := range map[string]intake.ResolverConfig{
		"trust everyone v4": {TrustedProxies: pfx("0.0.0.0/0")},
		"trust everyone v6": {TrustedProxies: pfx("::/0")},
		"invalid prefix":    {TrustedProxies: []netip.Prefix{{}}},
		"other header":      {Header: "X-Real-IP"},
		"negative bytes":    {MaxHeaderBytes: -1},
		"negative hops":     {MaxHops: -1},
	} {
		_, err := intake.NewResolver(cfg)
		assert.ErrorIs(t, err, intake.ErrConfig, name)
	}
}
