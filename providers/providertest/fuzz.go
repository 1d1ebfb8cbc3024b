package providertest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookwise/hookwise/verify"
)

// HostileHeaders are header values every header parser is fuzzed with, in
// its seed corpus: empty and blank values, lone separators and prefixes,
// lists past verify.MaxSignatureEntries, values past
// verify.MaxSignatureHeaderBytes, signs, overflowing numbers, NUL, invalid
// UTF-8 and non-ASCII.
var HostileHeaders = []string{
	"", " ", "\t", "=", ",", ", ,", "t=", "t=,v1=", "v1=", "v1,", "v1a,", "v0=", "sha256=", "sha1=",
	"t=1,t=2,v1=00", "v1=zz", "v1,====", "v1,A", "sha256=0", "sha256=" + strings.Repeat("0", 63),
	strings.Repeat("v1=00,", verify.MaxSignatureEntries+1),
	strings.Repeat("v1,AAAA ", verify.MaxSignatureEntries+1),
	strings.Repeat(",", 3*verify.MaxSignatureEntries),
	strings.Repeat(" ", 3*verify.MaxSignatureEntries),
	strings.Repeat("a", verify.MaxSignatureHeaderBytes+1),
	"-1", "+1", "0", "1e9", "0x10", " 1614265330", "1614265330 ", "99999999999999999999",
	"\x00", "\xff\xfe", "é", "\u2028", "v1=\u00e9\u00e9",
}

// FuzzHeader fuzzes parse, a parser of one header's value, with seeds and
// HostileHeaders as its seed corpus (run by a normal go test; go test
// -fuzz explores further). parse must not panic, and an error it returns
// must not quote a value of 16 bytes or more (a header value is attacker
// input, and errors reach logs):
//
//	func FuzzDeliveryID(f *testing.F) {
//		providertest.FuzzHeader(f, acme.ParseDeliveryID, "8f0c…")
//	}
func FuzzHeader(f *testing.F, parse func(value string) error, seeds ...string) {
	f.Helper()
	for _, s := range append(seeds, HostileHeaders...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if err := parse(value); err != nil {
			checkNoEcho(t, err, value)
		}
	})
}

func checkNoEcho(t *testing.T, err error, value string) {
	t.Helper()
	if len(value) >= 16 && strings.Contains(err.Error(), value) {
		t.Errorf("the error quotes the header value: %v", err)
	}
}

// FuzzVerifyHeader fuzzes a provider's Verify through one header: it signs
// the harness's first sample as Run does, replaces the named header with
// the fuzzed value and verifies. Verify must not panic; an error must match
// verify.ErrVerification and quote neither a secret nor the value. The
// seed corpus holds the signed value, its Tamperings and HostileHeaders.
func FuzzVerifyHeader(f *testing.F, h Harness, name string) {
	f.Helper()
	if h.New == nil || h.Sign == nil || len(h.Secrets) == 0 || len(h.Samples) == 0 {
		f.Fatal("providertest: FuzzVerifyHeader needs New, Sign, Secrets and Samples")
	}
	e := &env{h: h}
	p, err := h.New(Config{Secrets: h.Secrets[:1], Now: func() time.Time { return now }})
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	r, body := e.signed(f, h.Samples[0], h.Secrets[0], now)
	if err := p.Verify(r, body); err != nil {
		f.Fatalf("the signed sample does not verify: %v", err)
	}
	signed := r.Header.Get(name)
	for _, s := range append([]string{signed}, Tamperings(signed)...) {
		f.Add(s)
	}
	for _, s := range HostileHeaders {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		c := withBody(r, body)
		c.Header.Set(name, value)
		err := p.Verify(c, body)
		if err == nil {
			return
		}
		if !errors.Is(err, verify.ErrVerification) {
			t.Errorf("%s: %q: the error does not match verify.ErrVerification: %v", name, value, err)
		}
		checkNoEcho(t, err, value)
		for _, s := range h.Secrets {
			for _, part := range secretParts(s) {
				if strings.Contains(err.Error(), part) {
					t.Errorf("the error quotes a secret: %v", err)
				}
			}
		}
	})
}
