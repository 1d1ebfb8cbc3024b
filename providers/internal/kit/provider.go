package kit

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unsafe"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/verify"
)

// Provider is the provider a Scheme declares: it implements
// provider.Provider. A provider package wraps it in its own documented type
// and forwards Name, Verify and Parse. It is safe for concurrent use.
type Provider struct {
	s     *Scheme // compiled
	o     Options // checked
	keys  *keyring
	paths [][]string // the envelope's JSON paths
	slots [3]int     // for ID, Type, Version: the index in paths, or -1
}

var _ provider.Provider = (*Provider)(nil)

// New returns the provider s declares, configured by o. Its errors are
// prefixed with the provider's name; a missing, empty or blank secret, and
// one the scheme cannot use (a public key of the wrong length, a Basic
// secret without ":"), match verify.ErrNoSecret.
func (s *Scheme) New(o Options) (*Provider, error) {
	c, err := s.compile()
	if err != nil {
		return nil, err
	}
	if o, err = o.check(c); err != nil {
		return nil, err
	}
	kr, err := newKeyring(c, o)
	if err != nil {
		return nil, err
	}
	p := &Provider{s: c, o: o, keys: kr, slots: [3]int{-1, -1, -1}}
	for i, f := range p.fields() {
		if len(f.JSON) > 0 {
			p.slots[i] = len(p.paths)
			p.paths = append(p.paths, f.JSON)
		}
	}
	return p, nil
}

// Name returns the scheme's Name.
func (p *Provider) Name() string { return p.s.Name }

// Tolerance returns the timestamp window in force (0 when the scheme has no
// timestamp, or an Unchecked one and no window was configured).
func (p *Provider) Tolerance() time.Duration { return p.o.Tolerance }

// Verify authenticates a delivery. The cheap checks come first: the
// signature header's presence, bounds and syntax (verify.ParseSignatures),
// the timestamp and its window; only then is the message signed, with one
// MAC per secret whatever the number of signatures, or at most
// verify.MaxEd25519Signatures Ed25519 verifications per key. Tokens and
// Basic credentials are compared as SHA-256 digests in constant time, with
// every secret. Errors match verify.ErrVerification and are prefixed with
// the provider's name.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	if err := p.verify(r, body); err != nil {
		return fmt.Errorf("%s: %w", p.s.Name, err)
	}
	return nil
}

func (p *Provider) verify(r *http.Request, body []byte) error {
	k, err := p.keys.get()
	if err != nil {
		// A source that went bad fails closed, as a verification failure
		// (401) that still says why.
		return fmt.Errorf("secret source: %w: %w", err, verify.ErrVerification)
	}
	sc := p.s.pick(r.Header) // the spelling of the headers r uses
	sig := sc.Signature
	header := r.Header.Get(sig.Header)
	if header == "" {
		return verify.ErrMissingSignature
	}
	switch sc.Algorithm {
	case Token:
		return matchToken(k, header, sig.Prefix)
	case Basic:
		return matchBasic(k, header)
	}
	var sigs verify.Signatures
	var ecSig []byte // the ECDSA signature, read instead of sigs
	var ts string
	tsRead, tsCount := false, 0 // ts was read with the signatures, from tsCount entries
	switch t := sc.Timestamp; {
	case sc.Algorithm == ECDSAP256SHA256:
		var buf [maxECDSASignature]byte
		if ecSig, err = parseECDSA(buf[:0], header, sig); err != nil {
			return err
		}
	case t != nil && t.Field != "":
		// The timestamp is an entry of the signature header (Stripe's t=):
		// read it in the same pass, with the same bounds.
		if ts, tsCount, err = verify.ParseSignaturesField(&sigs, header, sig.Sep, t.Field, sig.Encoding, sig.Prefix); err != nil {
			return err
		}
		tsRead = true
	default:
		if err := verify.ParseSignatures(&sigs, header, sig.Sep, sig.Encoding, sig.Prefix); err != nil {
			return err
		}
	}
	if k.ed != nil && verify.TooManyEd25519(&sigs, 0) {
		return verify.ErrSignatureHeaderTooLarge
	}
	if t := sc.Timestamp; t != nil {
		switch {
		case !tsRead:
			if ts, err = sc.timestamp(r, header); err != nil {
				return err
			}
		case tsCount > 1: // exactly one, as Scheme.timestamp requires
			return verify.ErrMalformedTimestamp
		case ts == "":
			return verify.ErrMissingTimestamp
		}
		if p.o.Tolerance > 0 { // 0: an Unchecked timestamp without a configured window
			if err := checkTime(ts, t.Format, p.o.Now(), p.o.Tolerance); err != nil {
				return err
			}
		}
	}
	var buf [8][]byte
	parts := sc.message(buf[:0], r, ts, body, p.o.URL)
	ok := false
	switch {
	case k.ec != nil:
		ok = matchECDSA(k.ec, ecSig, parts)
	case k.ed != nil:
		ok = k.ed.MatchAny(&sigs, 0, parts...)
	default:
		ok = k.mac.MatchAny(&sigs, 0, parts...)
	}
	if !ok {
		return verify.ErrSignatureMismatch
	}
	return nil
}

// matchToken compares the token after prefix with every secret, as SHA-256
// digests in constant time, so neither its length nor which secret matched
// shows in the timing.
func matchToken(k *keys, header, prefix string) error {
	if len(header) > verify.MaxSignatureHeaderBytes {
		return verify.ErrSignatureHeaderTooLarge
	}
	token, ok := strings.CutPrefix(header, prefix)
	if !ok || token == "" {
		return verify.ErrMalformedSignature
	}
	return matchDigest(k, sha256.Sum256([]byte(token)))
}

// matchBasic reads "Basic <base64 of user:password>" and compares the
// credentials with every secret as matchToken does.
func matchBasic(k *keys, header string) error {
	if len(header) > verify.MaxSignatureHeaderBytes {
		return verify.ErrSignatureHeaderTooLarge
	}
	const scheme = "basic "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return verify.ErrMalformedSignature
	}
	creds, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header[len(scheme):]))
	if err != nil || !strings.Contains(string(creds), ":") {
		return verify.ErrMalformedSignature
	}
	return matchDigest(k, sha256.Sum256(creds))
}

func matchDigest(k *keys, got [sha256.Size]byte) error {
	ok := 0
	for i := range k.digests {
		ok |= subtle.ConstantTimeCompare(got[:], k.digests[i][:])
	}
	if ok != 1 {
		return verify.ErrSignatureMismatch
	}
	return nil
}

// timestamp returns the raw timestamp: its header's value, or the value of
// the signature header's single Field entry.
func (s *Scheme) timestamp(r *http.Request, header string) (string, error) {
	t := s.Timestamp
	if t.Header != "" {
		ts := r.Header.Get(t.Header)
		if ts == "" {
			return "", verify.ErrMissingTimestamp
		}
		return ts, nil
	}
	var ts string
	found := false
	for header != "" {
		var entry string
		entry, header = nextEntry(header, s.Signature.Sep)
		v, ok := strings.CutPrefix(strings.TrimSpace(entry), t.Field)
		if !ok {
			continue
		}
		if found {
			return "", verify.ErrMalformedTimestamp
		}
		ts, found = v, true
	}
	if ts == "" {
		return "", verify.ErrMissingTimestamp
	}
	return ts, nil
}

// nextEntry splits the first entry off s, as verify.ParseSignatures does.
func nextEntry(s, sep string) (entry, rest string) {
	if sep == " " {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
			return s[:i], s[i:]
		}
		return s, ""
	}
	entry, rest, _ = strings.Cut(s, sep)
	return entry, rest
}

// maxTimeLen bounds a timestamp's text: 13 digits of milliseconds, or an
// RFC 3339 time with nanoseconds and an offset (35 bytes).
const maxTimeLen = 40

// parseTime reads a timestamp written in format.
func parseTime(raw string, format TimeFormat) (time.Time, error) {
	switch format {
	case UnixMilli:
		if raw == "" {
			return time.Time{}, verify.ErrMissingTimestamp
		}
		if len(raw) > 15 {
			return time.Time{}, verify.ErrMalformedTimestamp
		}
		var n int64
		for i := 0; i < len(raw); i++ {
			if raw[i] < '0' || raw[i] > '9' {
				return time.Time{}, verify.ErrMalformedTimestamp
			}
			n = n*10 + int64(raw[i]-'0')
		}
		return time.UnixMilli(n), nil
	case RFC3339:
		if raw == "" {
			return time.Time{}, verify.ErrMissingTimestamp
		}
		if len(raw) > maxTimeLen {
			return time.Time{}, verify.ErrMalformedTimestamp
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return time.Time{}, verify.ErrMalformedTimestamp
		}
		return t, nil
	}
	return verify.ParseUnix(raw)
}

func checkTime(raw string, format TimeFormat, now time.Time, tolerance time.Duration) error {
	t, err := parseTime(raw, format)
	if err != nil {
		return err
	}
	return verify.CheckTimestamp(t, now, tolerance)
}

// formatTime writes t as format does.
func formatTime(t time.Time, format TimeFormat) string {
	switch format {
	case UnixMilli:
		return strconv.FormatInt(t.UnixMilli(), 10)
	case RFC3339:
		return t.UTC().Format(time.RFC3339Nano)
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// message appends the signed pieces to dst, hashed in order without being
// joined. url is the configured public URL ("" for the request's). The
// pieces that come from strings are read-only views of them (see view):
// nothing may write to the returned slices.
func (s *Scheme) message(dst [][]byte, r *http.Request, ts string, body []byte, url string) [][]byte {
	for _, p := range s.Message {
		switch p.kind {
		case pieceLiteral:
			dst = append(dst, view(p.value))
		case pieceHeader:
			dst = append(dst, view(r.Header.Get(p.value)))
		case pieceTime:
			dst = append(dst, view(ts))
		case pieceBody:
			dst = append(dst, body)
		case pieceURL:
			if url == "" {
				url = requestURL(r)
			}
			dst = append(dst, view(url))
		case pieceMethod:
			dst = append(dst, view(r.Method))
		}
	}
	return dst
}

// view returns the bytes of s without copying them. The message's pieces
// reach the hash through the hash.Hash interface, so the compiler cannot
// keep a []byte(s) copy on the stack: each conversion was a heap allocation
// per piece per request (Stripe's timestamp and "."; issue 14). A view is
// sound because every consumer of the pieces only reads them:
// hash.Hash.Write must not modify its argument (io.Writer's contract), the
// Ed25519 path copies them into its pooled buffer (verify's join) and the
// ECDSA path hashes them. Nothing may write to a view: a literal's bytes
// live in read-only memory, a header's are the request's string.
func view(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// requestURL returns the URL r was sent to: its own URL when absolute (a
// client request), else rebuilt from the Host header, TLS and the request
// URI (a server request).
func requestURL(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	if r.URL.IsAbs() {
		return r.URL.String()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

func (p *Provider) fields() [3]Field { return p.s.fields() }

func (s *Scheme) fields() [3]Field {
	e := s.Envelope
	return [3]Field{e.ID, e.Type, e.Version}
}

var partNames = [3]string{"id", "type", "version"}

// Parse reads the envelope the scheme declares. Its errors match
// provider.ErrMalformedEnvelope, name the field's source and never quote a
// value.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	var vals [3][]byte
	if len(p.paths) > 0 {
		if err := jsonscan.GetMany(body, p.paths, vals[:len(p.paths)]); err != nil {
			return provider.Envelope{}, fmt.Errorf("%s: body: %w: %w", p.s.Name, err, provider.ErrMalformedEnvelope)
		}
	}
	sc := p.s
	if r != nil { // a scheme reading only the body may be given no request
		sc = p.s.pick(r.Header)
	}
	var out [3]string
	for i, f := range sc.fields() {
		if !f.set() {
			continue
		}
		var raw []byte
		if j := p.slots[i]; j >= 0 {
			raw = vals[j]
		}
		v, err := value(f, r, body, raw)
		if err == nil && f.Required && v == "" {
			err = fmt.Errorf("no %s", f.describe(partNames[i]))
		}
		if err != nil {
			return provider.Envelope{}, fmt.Errorf("%s: %s: %w: %w", p.s.Name, partNames[i], err, provider.ErrMalformedEnvelope)
		}
		out[i] = v
	}
	return provider.Envelope{ID: out[0], Type: out[1], Version: out[2]}, nil
}

// value reads one field: raw is its JSON value when it has a path.
func value(f Field, r *http.Request, body []byte, raw []byte) (string, error) {
	switch {
	case f.BodyHash:
		sum := sha256.Sum256(body)
		return hex.EncodeToString(sum[:]), nil
	case f.Header != "":
		vs := r.Header.Values(f.Header)
		if len(vs) > 1 {
			return "", fmt.Errorf("%d values of %s", len(vs), f.describe(""))
		}
		if len(vs) == 0 {
			return "", nil
		}
		return vs[0], nil
	}
	if raw == nil || jsonscan.IsNull(raw) {
		return "", nil
	}
	if f.Number && isInteger(raw) {
		return string(raw), nil
	}
	s, err := jsonscan.String(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.describe(""), err)
	}
	return s, nil
}

func isInteger(raw []byte) bool {
	if len(raw) > 0 && raw[0] == '-' {
		raw = raw[1:]
	}
	if len(raw) == 0 {
		return false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Sign signs r, whose body is body, as the sender does with secret at now:
// it sets the timestamp header when the scheme has one and the signature
// header (Field entry first, for a timestamp in the signature header). For
// Ed25519 the secret is the private key (see Algorithm); for Token, the
// token; for Basic, "user:password". It has the shape of providertest's
// Harness.Sign, and every provider package exports it as SignRequest.
func (s *Scheme) Sign(r *http.Request, body []byte, secret string, now time.Time) error {
	c, err := s.compile()
	if err != nil {
		return err
	}
	sig := c.Signature
	switch c.Algorithm {
	case Token:
		r.Header.Set(sig.Header, sig.Prefix+secret)
		return nil
	case Basic:
		if !strings.Contains(secret, ":") {
			return fmt.Errorf("%s: a Basic secret is user:password: %w", c.Name, verify.ErrNoSecret)
		}
		r.Header.Set(sig.Header, "Basic "+base64.StdEncoding.EncodeToString([]byte(secret)))
		return nil
	}
	var ts string
	if t := c.Timestamp; t != nil {
		ts = formatTime(now, t.Format)
		if t.Header != "" {
			r.Header.Set(t.Header, ts)
		}
	}
	parts := c.message(nil, r, ts, body, "")
	var mac []byte
	switch c.Algorithm {
	case ECDSAP256SHA256:
		if mac, err = c.signECDSA(secret, parts); err != nil {
			return err
		}
	case Ed25519:
		priv, err := c.privateKey(secret)
		if err != nil {
			return err
		}
		var msg []byte
		for _, p := range parts {
			msg = append(msg, p...)
		}
		mac = ed25519.Sign(priv, msg)
	default:
		key, err := c.key(secret)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		m := hmac.New(c.Algorithm.hash(), key)
		for _, p := range parts {
			m.Write(p)
		}
		mac = m.Sum(nil)
	}
	value := sig.Prefix + sig.Encoding.Encode(mac)
	if t := c.Timestamp; t != nil && t.Field != "" {
		value = t.Field + ts + sig.Sep + value
	}
	r.Header.Set(sig.Header, value)
	return nil
}

// SentAt returns the timestamp signed into a delivery, for a scheme with
// one (provider.Timestamper): the receiver reports the clock skew it shows.
// It reads the request again; call it only for a request that passed Verify.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) {
	sc := p.s.pick(r.Header)
	if sc.Timestamp == nil {
		return time.Time{}, false
	}
	ts, err := sc.timestamp(r, r.Header.Get(sc.Signature.Header))
	if err != nil {
		return time.Time{}, false
	}
	t, err := parseTime(ts, sc.Timestamp.Format)
	return t, err == nil
}
