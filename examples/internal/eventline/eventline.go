// Package eventline writes the quickstart's line per event: one JSON object
// per line, {"provider":"stripe","id":"evt_…","type":"invoice.paid"}, plus a
// "dead_letter" field for an event dead-lettered instead of handled.
//
// The quickstart prints it and the load tool writes it to os.DevNull for
// every event, so it is encoded by hand into a reused buffer: the bytes are
// exactly those of encoding/json (HTML characters, U+2028 and U+2029
// escaped, invalid UTF-8 replaced by U+FFFD), without its reflection or an
// allocation per line.
package eventline

import (
	"io"
	"sync"
	"unicode/utf8"
)

// Line is one event's line. The JSON tags give its decoding.
type Line struct {
	Provider   string `json:"provider"`
	ID         string `json:"id"`
	Type       string `json:"type"`
	DeadLetter string `json:"dead_letter,omitempty"`
}

// AppendJSON appends l's JSON object (no newline) to b, byte for byte as
// json.Marshal(l) encodes it.
func (l Line) AppendJSON(b []byte) []byte {
	b = append(b, `{"provider":`...)
	b = appendString(b, l.Provider)
	b = append(b, `,"id":`...)
	b = appendString(b, l.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, l.Type)
	if l.DeadLetter != "" {
		b = append(b, `,"dead_letter":`...)
		b = appendString(b, l.DeadLetter)
	}
	return append(b, '}')
}

// Writer writes lines to an io.Writer, each whole in one Write call, safe
// for concurrent use; it keeps no line back (no buffering between calls).
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes l and a newline in one call to the underlying writer.
func (w *Writer) Write(l Line) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(l.AppendJSON(w.buf[:0]), '\n')
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > maxKept {
		w.buf = nil // one long line (an ID of many kilobytes) does not pin its buffer
	}
	return err
}

// maxKept is the largest buffer a Writer keeps between lines.
const maxKept = 4 << 10

const hex = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json escapes
// it by default.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other control characters, and <, > and &
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// safe marks the ASCII bytes written as they are: printable, and none of
// the quote, the backslash and the HTML characters <, > and &.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()
