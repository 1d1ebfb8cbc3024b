package faultproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Default bounds on one RESP frame; see Options.
const (
	DefaultMaxFrameBytes = 64 << 20
	DefaultMaxDepth      = 64
)

// Errors of the RESP reader. A connection whose peer sends a frame that
// fails with one of them is closed by the proxy.
var (
	// ErrProtocol reports bytes that are not valid RESP.
	ErrProtocol = errors.New("faultproxy: RESP protocol error")
	// ErrFrameTooLarge reports a frame (a command or a reply, with all its
	// nested elements) longer than the proxy's byte bound.
	ErrFrameTooLarge = errors.New("faultproxy: RESP frame too large")
	// ErrTooDeep reports aggregates nested deeper than the proxy's bound.
	ErrTooDeep = errors.New("faultproxy: RESP nesting too deep")
)

// value is one parsed RESP2/RESP3 value, for tests and for the fuzz target;
// the proxy itself reads replies without building values.
type value struct {
	Kind  byte    // the type byte: + - : $ * _ , # ! = ( % ~ > (never |)
	Str   string  // simple, bulk, verbatim, error, number, double, boolean text
	Null  bool    // $-1, *-1, _
	Elems []value // aggregates; a map's keys and values alternate
	Attrs []value // attribute entries (| frames) preceding the value, keys and values alternating
}

// respReader reads RESP frames from r, keeping the exact bytes of each
// frame so that it can be forwarded unchanged.
type respReader struct {
	r        *bufio.Reader
	maxBytes int
	maxDepth int
	build    bool // build values (tests); the proxy only needs the raw bytes and the kind
	raw      []byte
}

func newRespReader(r *bufio.Reader, maxBytes, maxDepth int) *respReader {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFrameBytes
	}
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	return &respReader{r: r, maxBytes: maxBytes, maxDepth: maxDepth}
}

// frame is one reply read by readReply: its exact bytes and the type byte of
// its value (after any attributes).
type frame struct {
	raw  []byte
	kind byte
}

// readReply reads one server-to-client frame. The returned bytes are valid
// until the next call.
func (rr *respReader) readReply() (frame, error) {
	rr.reset()
	v, err := rr.value(0, false)
	if err != nil {
		return frame{}, err
	}
	return frame{raw: rr.raw, kind: v.Kind}, nil
}

// reset empties raw, dropping a buffer grown by a large frame.
func (rr *respReader) reset() {
	if cap(rr.raw) > 1<<20 {
		rr.raw = nil
	}
	rr.raw = rr.raw[:0]
}

// readValue reads and builds one value (tests and fuzzing).
func (rr *respReader) readValue() (value, []byte, error) {
	rr.reset()
	rr.build = true
	v, err := rr.value(0, false)
	return v, rr.raw, err
}

// readCommand reads one client-to-server command: an array of bulk strings,
// or an inline command (a line of space-separated words). args is empty for
// frames Redis ignores without a reply (an empty inline line, *0, *-1).
// args[0] is upper-cased. raw is valid until the next call.
func (rr *respReader) readCommand() (args []string, raw []byte, err error) {
	rr.reset()
	b, err := rr.r.Peek(1)
	if err != nil {
		return nil, nil, err
	}
	if b[0] != '*' {
		line, err := rr.line(false)
		if err != nil {
			return nil, nil, err
		}
		args = splitInline(string(line))
	} else {
		line, err := rr.line(true)
		if err != nil {
			return nil, nil, err
		}
		n, err := parseLen(line[1:])
		if err != nil {
			return nil, nil, err
		}
		// Every element takes at least 6 bytes ("$0\r\n\r\n").
		if n > 0 && n > (rr.maxBytes-len(rr.raw))/6 {
			return nil, nil, ErrFrameTooLarge
		}
		if n > 0 {
			args = make([]string, 0, min(n, 64))
		}
		for i := 0; i < n; i++ {
			line, err := rr.line(true)
			if err != nil {
				return nil, nil, err
			}
			if line[0] != '$' {
				return nil, nil, fmt.Errorf("%w: command element of type %q", ErrProtocol, line[0])
			}
			l, err := parseLen(line[1:])
			if err != nil || l < 0 {
				return nil, nil, fmt.Errorf("%w: bad bulk length in command", ErrProtocol)
			}
			data, err := rr.data(l)
			if err != nil {
				return nil, nil, err
			}
			args = append(args, string(data))
		}
	}
	if len(args) > 0 {
		args[0] = strings.ToUpper(args[0])
	}
	return args, rr.raw, nil
}

// splitInline splits an inline command into words. Quotes are not
// interpreted (go-redis never sends inline commands; tests may).
func splitInline(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}

// value reads one value inside depth enclosing aggregates (attributes count
// as aggregates). inStream allows the "." end marker of a streamed
// aggregate.
func (rr *respReader) value(depth int, inStream bool) (value, error) {
	if depth > rr.maxDepth {
		return value{}, ErrTooDeep
	}
	var attrs []value
	for {
		line, err := rr.line(true)
		if err != nil {
			return value{}, err
		}
		t, body := line[0], line[1:]
		switch t {
		case '|':
			n, err := rr.count(body, 2)
			if err != nil {
				return value{}, err
			}
			if n < 0 {
				return value{}, fmt.Errorf("%w: null attribute", ErrProtocol)
			}
			for i := 0; i < 2*n; i++ {
				e, err := rr.value(depth+1, false)
				if err != nil {
					return value{}, err
				}
				if rr.build {
					attrs = append(attrs, e)
				}
			}
			continue // the attributed value follows
		case '.':
			if !inStream || len(body) != 0 || attrs != nil {
				return value{}, fmt.Errorf("%w: unexpected end marker", ErrProtocol)
			}
			return value{Kind: '.'}, nil
		case '+', '-':
			return rr.simple(t, body, attrs), nil
		case ':', '(':
			if !isInteger(body) {
				return value{}, fmt.Errorf("%w: bad number", ErrProtocol)
			}
			return rr.simple(t, body, attrs), nil
		case ',':
			if len(body) == 0 {
				return value{}, fmt.Errorf("%w: empty double", ErrProtocol)
			}
			return rr.simple(t, body, attrs), nil
		case '#':
			if len(body) != 1 || (body[0] != 't' && body[0] != 'f') {
				return value{}, fmt.Errorf("%w: bad boolean", ErrProtocol)
			}
			return rr.simple(t, body, attrs), nil
		case '_':
			if len(body) != 0 {
				return value{}, fmt.Errorf("%w: bad null", ErrProtocol)
			}
			return value{Kind: t, Null: true, Attrs: attrs}, nil
		case '$', '!', '=':
			if t == '$' && string(body) == "?" {
				return rr.streamedString(attrs)
			}
			n, err := parseLen(body)
			if err != nil {
				return value{}, err
			}
			if n < 0 {
				if t != '$' {
					return value{}, fmt.Errorf("%w: null of type %q", ErrProtocol, t)
				}
				return value{Kind: t, Null: true, Attrs: attrs}, nil
			}
			data, err := rr.data(n)
			if err != nil {
				return value{}, err
			}
			if t == '=' && (len(data) < 4 || data[3] != ':') {
				return value{}, fmt.Errorf("%w: bad verbatim string", ErrProtocol)
			}
			v := value{Kind: t, Attrs: attrs}
			if rr.build {
				v.Str = string(data)
			}
			return v, nil
		case '*', '%', '~', '>':
			per := 1
			if t == '%' {
				per = 2
			}
			v := value{Kind: t, Attrs: attrs}
			if string(body) == "?" {
				for {
					e, err := rr.value(depth+1, true)
					if err != nil {
						return value{}, err
					}
					if e.Kind == '.' {
						break
					}
					if rr.build {
						v.Elems = append(v.Elems, e)
					}
				}
				if len(v.Elems)%per != 0 {
					return value{}, fmt.Errorf("%w: odd streamed map", ErrProtocol)
				}
				return v, nil
			}
			n, err := rr.count(body, per)
			if err != nil {
				return value{}, err
			}
			if n < 0 {
				if t != '*' {
					return value{}, fmt.Errorf("%w: null of type %q", ErrProtocol, t)
				}
				v.Null = true
				return v, nil
			}
			if rr.build && n > 0 {
				v.Elems = make([]value, 0, min(n*per, 64))
			}
			for i := 0; i < n*per; i++ {
				e, err := rr.value(depth+1, false)
				if err != nil {
					return value{}, err
				}
				if rr.build {
					v.Elems = append(v.Elems, e)
				}
			}
			return v, nil
		default:
			return value{}, fmt.Errorf("%w: unknown type %q", ErrProtocol, t)
		}
	}
}

func (rr *respReader) simple(t byte, body []byte, attrs []value) value {
	v := value{Kind: t, Attrs: attrs}
	if rr.build {
		v.Str = string(body)
	}
	return v
}

// streamedString reads the chunks of a $? string up to its ";0" end.
func (rr *respReader) streamedString(attrs []value) (value, error) {
	var sb strings.Builder
	for {
		line, err := rr.line(true)
		if err != nil {
			return value{}, err
		}
		if line[0] != ';' {
			return value{}, fmt.Errorf("%w: expected a string chunk", ErrProtocol)
		}
		n, err := parseLen(line[1:])
		if err != nil || n < 0 {
			return value{}, fmt.Errorf("%w: bad chunk length", ErrProtocol)
		}
		if n == 0 {
			v := value{Kind: '$', Attrs: attrs}
			if rr.build {
				v.Str = sb.String()
			}
			return v, nil
		}
		data, err := rr.data(n)
		if err != nil {
			return value{}, err
		}
		if rr.build {
			sb.Write(data)
		}
	}
}

// count parses an aggregate's length and checks that n*per elements (each at
// least 3 bytes) can fit in the remaining byte budget.
func (rr *respReader) count(body []byte, per int) (int, error) {
	n, err := parseLen(body)
	if err != nil {
		return 0, err
	}
	if n > 0 && n > (rr.maxBytes-len(rr.raw))/(3*per) {
		return 0, ErrFrameTooLarge
	}
	return n, nil
}

// line reads one line, appends it to raw and returns it without its line
// end. strict requires "\r\n" and a non-empty line; otherwise (inline
// commands) a bare "\n" ends a line too.
func (rr *respReader) line(strict bool) ([]byte, error) {
	start := len(rr.raw)
	for {
		chunk, err := rr.r.ReadSlice('\n')
		if len(rr.raw)+len(chunk) > rr.maxBytes {
			return nil, ErrFrameTooLarge
		}
		rr.raw = append(rr.raw, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(rr.raw) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line := rr.raw[start : len(rr.raw)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	} else if strict {
		return nil, fmt.Errorf("%w: line not ended by CRLF", ErrProtocol)
	}
	if strict && len(line) == 0 {
		return nil, fmt.Errorf("%w: empty line", ErrProtocol)
	}
	return line, nil
}

// data reads n bytes and the CRLF after them, appends them to raw and returns
// the n bytes.
func (rr *respReader) data(n int) ([]byte, error) {
	if n > rr.maxBytes-len(rr.raw)-2 {
		return nil, ErrFrameTooLarge
	}
	start := len(rr.raw)
	rr.raw = slices.Grow(rr.raw, n+2)[:start+n+2]
	if _, err := io.ReadFull(rr.r, rr.raw[start:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if !bytes.HasSuffix(rr.raw, []byte("\r\n")) {
		return nil, fmt.Errorf("%w: bulk data not ended by CRLF", ErrProtocol)
	}
	return rr.raw[start : start+n], nil
}

// parseLen parses a length: -1 or a non-negative decimal without sign or
// leading zeros, small enough for an int.
func parseLen(b []byte) (int, error) {
	if string(b) == "-1" {
		return -1, nil
	}
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return 0, fmt.Errorf("%w: bad length", ErrProtocol)
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: bad length", ErrProtocol)
		}
		n = n*10 + int64(c-'0')
		if n > math.MaxInt32 {
			return 0, ErrFrameTooLarge
		}
	}
	return int(n), nil
}

// isInteger reports whether b is an optionally signed run of digits.
func isInteger(b []byte) bool {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
