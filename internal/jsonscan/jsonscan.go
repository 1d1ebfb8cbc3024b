// Package jsonscan picks values out of a JSON document without decoding it:
// the request path reads an event's ID and type from a body of any size with
// one pass over its bytes and no allocation.
//
// Get and GetMany validate the whole document as encoding/json would (the
// same grammar as json.Valid), so a malformed body is an error even when the
// wanted value comes before the defect. They differ from encoding/json in two
// documented ways:
//
//   - Nesting deeper than MaxDepth arrays and objects is ErrDepth.
//   - A looked-up key must be unambiguous: every decoder of the document,
//     encoding/json into a struct or into a map, must read the value Get
//     returns. encoding/json matches a struct field to an object key exactly
//     or, failing that, case-insensitively under its own folding (ASCII case,
//     plus Unicode simple folding: "K", the Kelvin sign U+212A, folds to "k",
//     "ſ", the long s U+017F, to "s"), and the last matching key wins. So a
//     looked-up key that appears twice in one object under that folding
//     ("id" and "ID", or "type" twice) is ErrDuplicateKey, and one present
//     only in another spelling ("ID" alone, when "id" is looked up: a struct
//     decodes it, a map does not) is ErrKeyCase. Taking any of them silently
//     would let the routing read a different value than the handler decodes.
//     Keys that are not looked up may repeat, as encoding/json accepts.
//
// Keys are compared after unescaping, so "\u0069d" matches "id" and
// "\u0049D" is a case variant of it. Invalid UTF-8 in strings is accepted and,
// when unquoted by String, replaced with U+FFFD, exactly as encoding/json
// does.
package jsonscan

import (
	"encoding/binary"
	"errors"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Get accepts.
const MaxDepth = 64

// maxPaths bounds the number of paths GetMany looks up at once.
const maxPaths = 64

// Errors returned by the scanner. They carry no part of the document.
var (
	// ErrSyntax reports a document that is not valid JSON.
	ErrSyntax = errors.New("jsonscan: invalid JSON")
	// ErrDepth reports nesting deeper than MaxDepth.
	ErrDepth = errors.New("jsonscan: nesting too deep")
	// ErrDuplicateKey reports a looked-up key present twice in one object,
	// compared as encoding/json matches struct fields: case-insensitively,
	// after unescaping.
	ErrDuplicateKey = errors.New("jsonscan: duplicate key")
	// ErrKeyCase reports a looked-up key present only in another case
	// ("ID" for "id"): encoding/json decodes it into a struct field named by
	// the key, not into a map entry, so the document has no single reading.
	ErrKeyCase = errors.New("jsonscan: key in another case")
	// ErrNotString is returned by String for a value that is not a string.
	ErrNotString = errors.New("jsonscan: value is not a string")
	// ErrTooManyPaths is returned by GetMany for more than 64 paths or when
	// vals is shorter than paths.
	ErrTooManyPaths = errors.New("jsonscan: too many paths")
)

// Get returns the raw bytes of the value at path, a list of keys of nested
// objects: Get(doc, "id") is the top-level id, Get(doc, "event", "type") the
// type of the top-level event object. found is false when a key is absent or
// an intermediate value is not an object. raw aliases doc. With no path, Get
// validates doc and returns it without surrounding white space.
func Get(doc []byte, path ...string) (raw []byte, found bool, err error) {
	if len(path) == 0 {
		s := scanner{doc: doc}
		s.ws()
		start := s.pos
		if err := s.skipValue(0); err != nil {
			return nil, false, err
		}
		end := s.pos
		s.ws()
		if s.pos != len(s.doc) {
			return nil, false, ErrSyntax
		}
		return doc[start:end], true, nil
	}
	paths := [1][]string{path}
	var vals [1][]byte
	if err := GetMany(doc, paths[:], vals[:]); err != nil {
		return nil, false, err
	}
	return vals[0], vals[0] != nil, nil
}

// GetMany looks up several paths in one pass over doc: vals[i] receives the
// raw value at paths[i], or nil when it is absent. It returns an error, and
// leaves vals in an unspecified state, when doc is malformed, too deep, or
// holds a looked-up key ambiguously (ErrDuplicateKey, ErrKeyCase; see the
// package documentation). At most 64 paths are looked up at once; every path
// must have at least one key.
func GetMany(doc []byte, paths [][]string, vals [][]byte) error {
	if len(paths) > maxPaths || len(vals) < len(paths) {
		return ErrTooManyPaths
	}
	var active, ascii uint64
	for i, p := range paths {
		vals[i] = nil
		if len(p) == 0 {
			return ErrTooManyPaths
		}
		active |= 1 << uint(i)
		if allASCII(p) {
			ascii |= 1 << uint(i)
		}
	}
	s := scanner{doc: doc, paths: paths, ascii: ascii}
	s.ws()
	if err := s.value(0, active); err != nil {
		return err
	}
	s.ws()
	if s.pos != len(s.doc) {
		return ErrSyntax
	}
	for i := range paths {
		if span := s.spans[i]; span[1] != 0 {
			vals[i] = doc[span[0]:span[1]]
		}
	}
	return nil
}

type scanner struct {
	doc   []byte
	pos   int
	paths [][]string
	// ascii has bit i set when every key of paths[i] is ASCII.
	ascii uint64
	// spans[i] is the [start, end) offset of the value of paths[i] in doc;
	// end is 0 while it is not found. Offsets rather than slices keep the
	// caller's arguments on its stack.
	spans [maxPaths][2]int
}

// ws skips JSON white space.
func (s *scanner) ws() {
	for s.pos < len(s.doc) {
		switch s.doc[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value scans the value at s.pos, which sits at the given depth of paths
// (the number of keys already matched); active is the set of paths still
// being followed.
func (s *scanner) value(depth int, active uint64) error {
	if active == 0 || s.pos >= len(s.doc) || s.doc[s.pos] != '{' {
		return s.skipValue(depth)
	}
	if depth >= MaxDepth {
		return ErrDepth
	}
	s.pos++ // '{'
	// matched: paths whose key at depth was seen in this object; variant:
	// those of them seen in another spelling than the path's.
	var matched, variant uint64
	s.ws()
	if s.pos < len(s.doc) && s.doc[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		if s.pos >= len(s.doc) || s.doc[s.pos] != '"' {
			return ErrSyntax
		}
		kstart := s.pos
		esc, err := s.skipString()
		if err != nil {
			return err
		}
		key := s.doc[kstart+1 : s.pos-1]
		s.ws()
		if s.pos >= len(s.doc) || s.doc[s.pos] != ':' {
			return ErrSyntax
		}
		s.pos++
		s.ws()
		plainASCII := !esc && isASCII(key)
		var child, leaf uint64
		for m := active; m != 0; m &= m - 1 {
			i := trailingZeros(m)
			p := s.paths[i]
			var match, exact bool
			if plainASCII && s.ascii&(1<<uint(i)) != 0 {
				match, exact = asciiKeyMatch(key, p[depth])
			} else {
				match, exact = keyMatch(key, p[depth])
			}
			if !match {
				continue
			}
			if matched&(1<<uint(i)) != 0 {
				return ErrDuplicateKey
			}
			matched |= 1 << uint(i)
			if !exact {
				variant |= 1 << uint(i)
			}
			if len(p) == depth+1 {
				leaf |= 1 << uint(i)
			} else {
				child |= 1 << uint(i)
			}
		}
		vstart := s.pos
		if err := s.value(depth+1, child); err != nil {
			return err
		}
		for m := leaf; m != 0; m &= m - 1 {
			s.spans[trailingZeros(m)] = [2]int{vstart, s.pos}
		}
		s.ws()
		if s.pos >= len(s.doc) {
			return ErrSyntax
		}
		switch s.doc[s.pos] {
		case ',':
			s.pos++
			s.ws()
		case '}':
			s.pos++
			if variant != 0 {
				return ErrKeyCase
			}
			return nil
		default:
			return ErrSyntax
		}
	}
}

func trailingZeros(m uint64) int {
	n := 0
	for m&1 == 0 {
		m >>= 1
		n++
	}
	return n
}

func allASCII(keys []string) bool {
	for _, k := range keys {
		for i := 0; i < len(k); i++ {
			if k[i] >= utf8.RuneSelf {
				return false
			}
		}
	}
	return true
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiKeyMatch is keyMatch for a key without escapes and a wanted key, both
// of ASCII bytes only: they fold together only byte for byte.
func asciiKeyMatch(key []byte, want string) (match, exact bool) {
	if len(key) != len(want) {
		return false, false
	}
	if string(key) == want {
		return true, true
	}
	for i := range len(key) {
		a, b := key[i], want[i]
		if a == b {
			continue
		}
		if a|0x20 != b|0x20 || a|0x20 < 'a' || a|0x20 > 'z' {
			return false, false
		}
	}
	return true, false
}

// keyMatch reports whether the raw key content (between the quotes, escapes
// and all) names want for encoding/json's struct decoding (match: equal
// under its case folding, see foldRune) and whether it is want itself once
// unquoted, as a map key (exact). A want that is not valid UTF-8 matches
// nothing.
func keyMatch(key []byte, want string) (match, exact bool) {
	exact = true
	i, j := 0, 0
	for i < len(key) && j < len(want) {
		var kr rune
		kr, i = nextRune(key, i)
		wr, size := utf8.DecodeRuneInString(want[j:])
		if wr == utf8.RuneError && size == 1 {
			return false, false
		}
		j += size
		if kr != wr {
			exact = false
			if foldRune(kr) != foldRune(wr) {
				return false, false
			}
		}
	}
	if i != len(key) || j != len(want) {
		return false, false
	}
	return true, exact
}

// nextRune decodes the rune at b[i] of valid JSON string content as
// encoding/json unquotes it (escapes, UTF-16 surrogate pairs; invalid UTF-8
// and unpaired surrogates are U+FFFD) and returns it with the offset of the
// next one.
func nextRune(b []byte, i int) (rune, int) {
	c := b[i]
	if c != '\\' {
		if c < utf8.RuneSelf {
			return rune(c), i + 1
		}
		r, size := utf8.DecodeRune(b[i:])
		return r, i + size
	}
	switch b[i+1] {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r := hex4(b[i+2 : i+6])
		i += 6
		if !utf16.IsSurrogate(r) {
			return r, i
		}
		if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
			if dec := utf16.DecodeRune(r, hex4(b[i+2:i+6])); dec != utf8.RuneError {
				return dec, i + 6
			}
		}
		return utf8.RuneError, i
	default: // '"', '\\', '/'
		return rune(b[i+1]), i + 2
	}
}

// foldRune maps r to the representative of its case-folding orbit, as
// encoding/json's foldName does: ASCII letters to upper case, any other rune
// to the smallest rune of its unicode.SimpleFold orbit (so the Kelvin sign
// U+212A folds with "k" and "K", the long s U+017F with "s" and "S").
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// skipValue skips the value at s.pos, validating it.
func (s *scanner) skipValue(depth int) error {
	if s.pos >= len(s.doc) {
		return ErrSyntax
	}
	switch c := s.doc[s.pos]; c {
	case '"':
		_, err := s.skipString()
		return err
	case '{', '[':
		return s.skipContainer(depth)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			return s.skipNumber()
		}
		return ErrSyntax
	}
}

// skipContainer skips an array or object starting at s.pos.
func (s *scanner) skipContainer(depth int) error {
	if depth >= MaxDepth {
		return ErrDepth
	}
	open := s.doc[s.pos]
	s.pos++
	s.ws()
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	if s.pos < len(s.doc) && s.doc[s.pos] == closer {
		s.pos++
		return nil
	}
	for {
		if open == '{' {
			if s.pos >= len(s.doc) || s.doc[s.pos] != '"' {
				return ErrSyntax
			}
			if _, err := s.skipString(); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.doc) || s.doc[s.pos] != ':' {
				return ErrSyntax
			}
			s.pos++
			s.ws()
		}
		if err := s.skipValue(depth + 1); err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.doc) {
			return ErrSyntax
		}
		switch s.doc[s.pos] {
		case ',':
			s.pos++
			s.ws()
		case closer:
			s.pos++
			return nil
		default:
			return ErrSyntax
		}
	}
}

func (s *scanner) literal(lit string) error {
	if len(s.doc)-s.pos < len(lit) || string(s.doc[s.pos:s.pos+len(lit)]) != lit {
		return ErrSyntax
	}
	s.pos += len(lit)
	return nil
}

// skipNumber skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) skipNumber() error {
	d := s.doc
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return ErrSyntax
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return ErrSyntax
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return ErrSyntax
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	s.pos = i
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// plain marks bytes that need no attention inside a string.
var plain = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = true
	}
	t['"'] = false
	t['\\'] = false
	return t
}()

// skipPlain returns the index of the first byte of d from i on that is not
// plain (or len(d)). It tests eight bytes at a time: a word holds a quote, a
// backslash or a control character exactly when one of the three SWAR
// tests below flags a byte, and then the byte loop finds which.
func skipPlain(d []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for i+8 <= len(d) {
		v := binary.LittleEndian.Uint64(d[i:])
		quote := v ^ ('"' * ones)
		backslash := v ^ ('\\' * ones)
		// x-ones & ^x & highs is nonzero iff some byte of x is 0; v-0x20*ones
		// & ^v & highs iff some byte of v is below 0x20.
		if (quote-ones)&^quote&highs|(backslash-ones)&^backslash&highs|(v-0x20*ones)&^v&highs != 0 {
			break
		}
		i += 8
	}
	for i < len(d) && plain[d[i]] {
		i++
	}
	return i
}

// skipString skips the string starting at s.pos (on its opening quote) and
// reports whether it holds escapes.
func (s *scanner) skipString() (escaped bool, err error) {
	d := s.doc
	i := s.pos + 1
	for {
		i = skipPlain(d, i)
		if i >= len(d) {
			return false, ErrSyntax
		}
		switch d[i] {
		case '"':
			s.pos = i + 1
			return escaped, nil
		case '\\':
			escaped = true
			i++
			if i >= len(d) {
				return false, ErrSyntax
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(d)-i < 5 {
					return false, ErrSyntax
				}
				for _, c := range d[i+1 : i+5] {
					if _, ok := hexVal(c); !ok {
						return false, ErrSyntax
					}
				}
				i += 5
			default:
				return false, ErrSyntax
			}
		default: // control character
			return false, ErrSyntax
		}
	}
}

func hexVal(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return rune(c-'A') + 10, true
	}
	return 0, false
}

// String unquotes raw, a JSON string value as returned by Get, the way
// encoding/json does: escapes (including \uXXXX and UTF-16 surrogate pairs)
// are decoded, and invalid UTF-8 and unpaired surrogates become U+FFFD. It
// returns ErrNotString when raw is not a string, and ErrSyntax when it is a
// malformed one.
func String(raw []byte) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", ErrNotString
	}
	s := scanner{doc: raw}
	if _, err := s.skipString(); err != nil || s.pos != len(raw) {
		return "", ErrSyntax
	}
	return unquote(raw[1 : len(raw)-1]), nil
}

// IsNull reports whether raw is the literal null.
func IsNull(raw []byte) bool { return string(raw) == "null" }

// unquote decodes the content of a valid JSON string (between the quotes).
func unquote(b []byte) string {
	i := 0
	for i < len(b) && b[i] != '\\' && b[i] < utf8.RuneSelf {
		i++
	}
	if i == len(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 2*utf8.UTFMax)
	sb.Write(b[:i])
	for i < len(b) {
		c := b[i]
		switch {
		case c == '\\':
			i++
			switch b[i] {
			case '"', '\\', '/':
				sb.WriteByte(b[i])
				i++
			case 'b':
				sb.WriteByte('\b')
				i++
			case 'f':
				sb.WriteByte('\f')
				i++
			case 'n':
				sb.WriteByte('\n')
				i++
			case 'r':
				sb.WriteByte('\r')
				i++
			case 't':
				sb.WriteByte('\t')
				i++
			case 'u':
				r := hex4(b[i+1 : i+5])
				i += 5
				if utf16.IsSurrogate(r) {
					if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(b[i+2:i+6])); dec != utf8.RuneError {
							sb.WriteRune(dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				sb.WriteRune(r)
			}
		case c < utf8.RuneSelf:
			sb.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				sb.WriteRune(utf8.RuneError)
			} else {
				sb.Write(b[i : i+size])
			}
			i += size
		}
	}
	return sb.String()
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		v, _ := hexVal(c)
		r = r<<4 | v
	}
	return r
}
