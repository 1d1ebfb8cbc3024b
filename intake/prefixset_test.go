package intake_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hookwise/hookwise/intake"
)

func TestPrefixSetContains(t *testing.T) {
	set := intake.NewPrefixSet(pfx(
		"192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20",
		"2a0a:a440::/29", "2606:50c0::/32", "3.18.12.63/32", "::ffff:198.51.100.0/120",
	)...)
	in := []string{
		"192.30.252.0", "192.30.255.255", "140.82.115.7", "143.55.79.255", "3.18.12.63",
		"2a0a:a440::1", "2a0a:a447:ffff::1", "2606:50c0:ffff::9",
		"::ffff:140.82.115.7", // mapped looks up as IPv4
		"198.51.100.200",      // from the mapped prefix, stored as IPv4
		"2606:50c0::1%eth0",   // zone ignored
	}
	out := []string{
		"192.30.251.255", "192.31.0.0", "2a0a:a448::", "140.82.128.0", "3.18.12.62", "3.18.12.64",
		"2a0a:a438::", "2a10::", "2606:50c1::", "::", "0.0.0.0", "255.255.255.255",
		"::8c52:7307", // IPv4-compatible, not mapped: IPv6
	}
	for _, s := range in {
		assert.True(t, set.Contains(netip.MustParseAddr(s)), s)
	}
	for _, s := range out {
		assert.False(t, set.Contains(netip.MustParseAddr(s)), s)
	}
	assert.False(t, set.Contains(netip.Addr{}))
	assert.Equal(t, 8, set.Len())
}

func TestPrefixSetFamiliesApart(t *testing.T) {
	v4 := intake.NewPrefixSet(pfx("0.0.0.0/0")...)
	assert.True(t, v4.Contains(netip.MustParseAddr("8.8.8.8")))
	assert.True(t, v4.Contains(netip.MustParseAddr("::ffff:8.8.8.8")))
	assert.False(t, v4.Contains(netip.MustParseAddr("2001:db8::1")))
	v6 := intake.NewPrefixSet(pfx("::/0")...)
	assert.True(t, v6.Contains(netip.MustParseAddr("2001:db8::1")))
	assert.True(t, v6.Contains(netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")))
	assert.False(t, v6.Contains(netip.MustParseAddr("8.8.8.8")))
}

func TestPrefixSetMerges(t *testing.T) {
	set := intake.NewPrefixSet(pfx(
		"10.0.0.0/25", "10.0.0.128/25", // adjacent: one range
		"10.0.0.0/24",                              // covered
		"10.0.2.0/24",                              // apart
		"255.255.255.255/32", "255.255.255.254/32", // top of the space
		"2001:db8::/33", "2001:db8:8000::/33", // adjacent in v6
		"ffff:ffff:ffff:ffff::/64", "ffff:ffff:ffff:ffff:ffff::/80",
		"192.0.2.77/24", // host bits ignored
	)...)
	assert.Equal(t, 6, set.Ranges(), "4 IPv4 ranges, 2 IPv6")
	assert.True(t, set.Contains(netip.MustParseAddr("192.0.2.1")))
	assert.True(t, set.Contains(netip.MustParseAddr("10.0.0.200")))
	assert.False(t, set.Contains(netip.MustParseAddr("10.0.1.0")))
	assert.True(t, set.Contains(netip.MustParseAddr("255.255.255.255")))
	assert.True(t, set.Contains(netip.MustParseAddr("2001:db8:ffff::1")))
	assert.True(t, set.Contains(netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")))

	var empty *intake.PrefixSet
	assert.False(t, empty.Contains(netip.MustParseAddr("10.0.0.1")))
	assert.Zero(t, intake.NewPrefixSet(netip.Prefix{}).Len())
}

// TestPrefixSetMatchesLinearScan compares the merged lookup with
// netip.Prefix.Contains over random prefixes and addresses.
func TestPrefixSetMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		var ps []netip.Prefix
		for i := 0; i < 40; i++ {
			if rng.IntN(2) == 0 {
				var b [4]byte
				for j := range b {
					b[j] = byte(rng.IntN(4)) // a small space, so prefixes overlap
				}
				ps = append(ps, netip.PrefixFrom(netip.AddrFrom4(b), 24+rng.IntN(9)).Masked())
			} else {
				var b [16]byte
				b[0], b[15] = 0x20, byte(rng.IntN(8))
				ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(b), 120+rng.IntN(9)).Masked())
			}
		}
		set := intake.NewPrefixSet(ps...)
		for i := 0; i < 200; i++ {
			var a netip.Addr
			if rng.IntN(2) == 0 {
				a = netip.AddrFrom4([4]byte{byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(4))})
			} else {
				var b [16]byte
				b[0], b[15] = 0x20, byte(rng.IntN(16))
				a = netip.AddrFrom16(b)
			}
			want := false
			for _, p := range ps {
				want = want || p.Contains(a)
			}
			assert.Equal(t, want, set.Contains(a), "%s in %v", a, ps)
		}
	}
}

func TestListStoreLoad(t *testing.T) {
	l := intake.NewList(nil)
	assert.Nil(t, l.Load())
	s := intake.NewPrefixSet(pfx("10.0.0.0/8")...)
	l.Store(s)
	assert.Same(t, s, l.Load())
	l.Store(nil)
	assert.Nil(t, l.Load())
}
