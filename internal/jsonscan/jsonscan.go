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
//   - A key that is looked up and appears twice in the same object is
//     ErrDuplicateKey. encoding/json keeps the last of duplicate keys; taking
//     either silently would let the routing read a different value than the
//     handler decodes, so the ambiguity is refused. Duplicates of keys that
//     are not looked up are accepted, as encoding/json accepts them.
//
// Keys are compared after unescaping, so "\u0069d" matches "id". Invalid UTF-8
// in strings is accepted and, when unquoted by String, replaced with U+FFFD,
// exactly as encoding/json does.
package jsonscan

import (
	"errors"
	"strings"
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
	// ErrDuplicateKey reports a looked-up key present twice in one object.
	ErrDuplicateKey = errors.New("jsonscan: duplicate key")
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
// holds a looked-up key twice in one object. At most 64 paths are looked up
// at once; every path must have at least one key.
func GetMany(doc []byte, paths [][]string, vals [][]byte) error {
	if len(paths) > maxPaths || len(vals) < len(paths) {
		return ErrTooManyPaths
	}
	var active uint64
	for i, p := range paths {
		vals[i] = nil
		if len(p) == 0 {
			return ErrTooManyPaths
		}
		active |= 1 << uint(i)
	}
	s := scanner{doc: doc, paths: paths}
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
	var matched uint64
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
		var child, leaf uint64
		for m := active; m != 0; m &= m - 1 {
			i := trailingZeros(m)
			p := s.paths[i]
			if !keyEqual(key, esc, p[depth]) {
				continue
			}
			if matched&(1<<uint(i)) != 0 {
				return ErrDuplicateKey
			}
			matched |= 1 << uint(i)
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

// keyEqual reports whether the raw key content (between the quotes) equals
// want once unescaped.
func keyEqual(key []byte, escaped bool, want string) bool {
	if !escaped {
		if string(key) == want {
			// An invalid sequence in key decodes to U+FFFD, so it cannot
			// equal want even when the raw bytes do.
			return utf8.ValidString(want)
		}
		if utf8.Valid(key) {
			return false
		}
	}
	// Rare path: escapes or invalid UTF-8 in the key.
	return unquote(key) == want
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

// skipString skips the string starting at s.pos (on its opening quote) and
// reports whether it holds escapes.
func (s *scanner) skipString() (escaped bool, err error) {
	d := s.doc
	i := s.pos + 1
	for {
		for i < len(d) && plain[d[i]] {
			i++
		}
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
