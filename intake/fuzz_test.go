package intake_test

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/hookwise/hookwise/intake"
)

// fuzzClientIP checks what must hold for any header: no panic, either a
// valid unmapped address or one of the three refusals, and an untrusted
// peer's header never read.
func fuzzClientIP(t *testing.T, res *intake.Resolver, header, value string) {
	r := request("10.1.1.1:443", map[string][]string{header: {value}})
	got, err := res.ClientIP(r)
	if err != nil {
		if !errors.Is(err, intake.ErrBadAddress) && !errors.Is(err, intake.ErrHeaderTooLarge) && !errors.Is(err, intake.ErrTooManyHops) {
			t.Fatalf("unexpected error %v", err)
		}
		if got.IsValid() {
			t.Fatalf("an address with an error: %v", got)
		}
	} else if !got.IsValid() || got.Is4In6() {
		t.Fatalf("invalid or mapped address %v", got)
	}

	spoof := request("203.0.113.9:443", map[string][]string{header: {value}})
	got, err = res.ClientIP(spoof)
	if err != nil || got != netip.MustParseAddr("203.0.113.9") {
		t.Fatalf("an untrusted peer's header was read: %v %v", got, err)
	}
}

func FuzzXForwardedFor(f *testing.F) {
	for _, s := range []string{
		"", "140.82.115.1", "1.2.3.4, 140.82.115.1", "140.82.115.1, 10.0.0.2",
		"[2606:50c0::1]:4711", "2606:50c0::1", "::ffff:140.82.115.1", "fe80::1%eth0",
		"140.82.115.1:80", "unknown", ",,,", " \t", "10.0.0.1,10.0.0.2", "[::1", "1.2.3.4.5",
	} {
		f.Add(s)
	}
	res, err := intake.NewResolver(intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8", "fd00::/8"), MaxHops: 8, MaxHeaderBytes: 256})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) { fuzzClientIP(t, res, "X-Forwarded-For", v) })
}

func FuzzForwarded(f *testing.F) {
	for _, s := range []string{
		"", "for=192.0.2.60;proto=http;by=203.0.113.43", `for="[2001:db8:cafe::17]:4711"`,
		"for=192.0.2.43, for=198.51.100.17", `for="_gazonk"`, "For=unknown", `for=1.2.3.4;host="a,b\"c"`,
		`for="`, "for=;", ";;,;", "for=10.0.0.1, for=10.0.0.2", `for="\`, "proto=https",
	} {
		f.Add(s)
	}
	res, err := intake.NewResolver(intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8", "fd00::/8"), Header: intake.HeaderForwarded, MaxHops: 8, MaxHeaderBytes: 256})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) { fuzzClientIP(t, res, "Forwarded", v) })
}

// fuzzList checks a list parser: no panic; a list is never empty and holds
// only valid prefixes; errors are the documented ones.
func fuzzList(t *testing.T, parse func([]byte) ([]netip.Prefix, error), body []byte) {
	ps, err := parse(body)
	if err != nil {
		if !errors.Is(err, intake.ErrListFormat) && !errors.Is(err, intake.ErrEmptyList) {
			t.Fatalf("unexpected error %v", err)
		}
		if ps != nil {
			t.Fatal("prefixes with an error")
		}
		return
	}
	if len(ps) == 0 {
		t.Fatal("an empty list without ErrEmptyList")
	}
	for _, p := range ps {
		if !p.IsValid() || p.Addr().Zone() != "" {
			t.Fatalf("invalid prefix %v", p)
		}
	}
}

func FuzzParseGitHubMeta(f *testing.F) {
	if b, err := os.ReadFile("testdata/github_meta.json"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{`{"hooks":[]}`, `{"hooks":["192.30.252.0/22","2606:50c0::/32"]}`, `{"hooks":null}`, `[]`, `{"hooks":["1.2.3.4"]}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzList(t, intake.ParseGitHubMeta, b) })
}

func FuzzParseStripeIPs(f *testing.F) {
	for _, name := range []string{"testdata/stripe_ips_webhooks.json", "testdata/stripe_ips_webhooks.txt"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{`{"WEBHOOKS":[]}`, "3.18.12.63\r\n", "\xef\xbb\xbf3.18.12.63", "{", "\n\n", "2600::1/64\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzList(t, intake.ParseStripeIPs, b) })
}
