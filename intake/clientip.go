package intake

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
)

// The forwarding headers a Resolver can read.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239
)

// Bounds of a forwarding header, the defaults of ResolverConfig.
const (
	DefaultMaxHeaderBytes = 4096
	DefaultMaxHops        = 32
)

// Errors of client address resolution. Each refuses the request; none
// carries the header's text.
var (
	// ErrBadAddress: the peer address, or a forwarding entry the walk had to
	// read, is not an IP address (malformed, "unknown", an obfuscated
	// identifier, an empty entry, a broken Forwarded syntax).
	ErrBadAddress = errors.New("intake: client address malformed or unknown")
	// ErrHeaderTooLarge: the forwarding header lines together exceed
	// MaxHeaderBytes.
	ErrHeaderTooLarge = errors.New("intake: forwarding header exceeds its byte bound")
	// ErrTooManyHops: the forwarding header has more than MaxHops entries.
	ErrTooManyHops = errors.New("intake: forwarding header exceeds its hop bound")
	// ErrConfig: a configuration is invalid (the error says which field).
	ErrConfig = errors.New("intake: invalid configuration")
)

// ResolverConfig configures a Resolver.
type ResolverConfig struct {
	// TrustedProxies are the proxies (load balancers, CDNs, ingress) whose
	// forwarding header is believed. Empty: no proxy is trusted and the
	// client is the TCP peer (RemoteAddr), whatever the headers say. A
	// prefix of length 0 (0.0.0.0/0, ::/0) is refused: trusting every peer
	// lets anyone choose the client address.
	TrustedProxies []netip.Prefix
	// Header is the forwarding header trusted proxies set:
	// HeaderXForwardedFor (the default) or HeaderForwarded. Only one is read;
	// the other is ignored.
	Header string
	// MaxHeaderBytes bounds the header's lines together (default
	// DefaultMaxHeaderBytes); beyond it the request is refused
	// (ErrHeaderTooLarge).
	MaxHeaderBytes int
	// MaxHops bounds the header's entries (default DefaultMaxHops); beyond
	// it the request is refused (ErrTooManyHops).
	MaxHops int
}

// Resolver finds the client address of a request: the TCP peer, or, when the
// peer is a trusted proxy, the first untrusted address of the forwarding
// header read from the right. The zero value is not usable; a nil *Resolver
// resolves to the TCP peer. A Resolver is safe for concurrent use.
type Resolver struct {
	trusted  *PrefixSet
	header   string
	maxBytes int
	maxHops  int
}

// NewResolver validates cfg and returns its Resolver. Errors match ErrConfig.
func NewResolver(cfg ResolverConfig) (*Resolver, error) {
	r := &Resolver{header: HeaderXForwardedFor, maxBytes: DefaultMaxHeaderBytes, maxHops: DefaultMaxHops}
	for i, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("%w: TrustedProxies[%d] is not a valid prefix", ErrConfig, i)
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("%w: TrustedProxies[%d] has length 0 and would trust every peer", ErrConfig, i)
		}
	}
	r.trusted = NewPrefixSet(cfg.TrustedProxies...)
	if cfg.Header != "" {
		switch h := textproto.CanonicalMIMEHeaderKey(cfg.Header); h {
		case HeaderXForwardedFor, HeaderForwarded:
			r.header = h
		default:
			return nil, fmt.Errorf("%w: Header must be X-Forwarded-For or Forwarded", ErrConfig)
		}
	}
	if cfg.MaxHeaderBytes < 0 || cfg.MaxHops < 0 {
		return nil, fmt.Errorf("%w: MaxHeaderBytes and MaxHops must not be negative", ErrConfig)
	}
	if cfg.MaxHeaderBytes > 0 {
		r.maxBytes = cfg.MaxHeaderBytes
	}
	if cfg.MaxHops > 0 {
		r.maxHops = cfg.MaxHops
	}
	return r, nil
}

// ClientIP returns the client address of req.
//
// The TCP peer (req.RemoteAddr) is the client unless it is a trusted proxy.
// Then the forwarding header is read from the right: each entry was written
// by the hop to its right, so trusted entries are skipped and the first
// untrusted one is the client. If every entry is trusted the leftmost is the
// client; if the header is absent, the peer is. An entry the walk reaches
// that is not an address refuses the request (ErrBadAddress); entries left of
// the client are never read. A header over its bounds refuses the request
// (ErrHeaderTooLarge, ErrTooManyHops).
//
// The address is returned with IPv4-mapped IPv6 unmapped (::ffff:192.0.2.1
// is 192.0.2.1) and any IPv6 zone kept.
func (r *Resolver) ClientIP(req *http.Request) (netip.Addr, error) {
	peer, ok := parseRemoteAddr(req.RemoteAddr)
	if !ok {
		return netip.Addr{}, ErrBadAddress
	}
	if r == nil || r.trusted.Ranges() == 0 || !r.trusted.Contains(peer) {
		return peer, nil
	}
	lines := req.Header.Values(r.header)
	if len(lines) == 0 {
		return peer, nil
	}
	size := len(lines) - 1 // the commas that join them
	for _, l := range lines {
		size += len(l)
		if size > r.maxBytes {
			return netip.Addr{}, ErrHeaderTooLarge
		}
	}
	joined := strings.Join(lines, ",")
	var entries []string
	var err error
	if r.header == HeaderForwarded {
		entries, err = forwardedFors(joined, r.maxHops)
	} else {
		entries, err = splitXFF(joined, r.maxHops)
	}
	if err != nil {
		return netip.Addr{}, err
	}
	var a netip.Addr
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok = parseNode(entries[i])
		if !ok {
			return netip.Addr{}, ErrBadAddress
		}
		if !r.trusted.Contains(a) {
			return a, nil
		}
	}
	return a, nil
}

// parseRemoteAddr parses http.Request.RemoteAddr: host:port, or a bare
// address for servers that set one.
func parseRemoteAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// splitXFF splits an X-Forwarded-For value at commas, refusing more than
// maxHops entries before allocating them.
func splitXFF(s string, maxHops int) ([]string, error) {
	if strings.Count(s, ",")+1 > maxHops {
		return nil, ErrTooManyHops
	}
	return strings.Split(s, ","), nil
}

// parseNode parses one hop: an IPv4 address, an IPv6 address bare or in
// brackets, either with a port, surrounded by optional whitespace. Anything
// else (empty, "unknown", "_hidden", a host name) is not a node.
func parseNode(s string) (netip.Addr, bool) {
	s = strings.Trim(s, " \t")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// forwardedFors parses an RFC 7239 Forwarded value and returns the "for"
// parameter of each element, in order, unquoted. An element without exactly
// one "for", a pair that is not token=value, an unterminated quoted string or
// more than maxHops elements is an error.
//
//	Forwarded         = 1#forwarded-element
//	forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
//	forwarded-pair    = token "=" value
//	value             = token / quoted-string
func forwardedFors(s string, maxHops int) ([]string, error) {
	var fors []string
	i := 0
	for {
		if len(fors) == maxHops {
			return nil, ErrTooManyHops
		}
		forVal, seen := "", false
		// One element: pairs separated by ';' until ',' or the end.
		for {
			i = skipOWS(s, i)
			if i < len(s) && s[i] != ';' && s[i] != ',' {
				name, val, next, ok := forwardedPair(s, i)
				if !ok {
					return nil, ErrBadAddress
				}
				if strings.EqualFold(name, "for") {
					if seen {
						return nil, ErrBadAddress
					}
					forVal, seen = val, true
				}
				i = skipOWS(s, next)
			}
			if i < len(s) && s[i] == ';' {
				i++
				continue
			}
			break
		}
		if !seen {
			return nil, ErrBadAddress
		}
		fors = append(fors, forVal)
		if i == len(s) {
			return fors, nil
		}
		if s[i] != ',' {
			return nil, ErrBadAddress
		}
		i++
	}
}

// forwardedPair parses token "=" value at s[i:] and returns the name, the
// unquoted value and the index after the value.
func forwardedPair(s string, i int) (name, val string, next int, ok bool) {
	start := i
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	if i == start || i == len(s) || s[i] != '=' {
		return "", "", 0, false
	}
	name = s[start:i]
	i++
	if i < len(s) && s[i] == '"' {
		var b strings.Builder
		for i++; i < len(s); i++ {
			switch c := s[i]; {
			case c == '"':
				return name, b.String(), i + 1, true
			case c == '\\':
				i++
				if i == len(s) {
					return "", "", 0, false
				}
				b.WriteByte(s[i])
			case c < 0x20 && c != '\t', c == 0x7f:
				return "", "", 0, false
			default:
				b.WriteByte(c)
			}
		}
		return "", "", 0, false // unterminated
	}
	start = i
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	if i == start {
		return "", "", 0, false
	}
	return name, s[start:i], i, true
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// isTchar reports whether c is an RFC 9110 token character.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
