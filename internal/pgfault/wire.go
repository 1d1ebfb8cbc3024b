package pgfault

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"
)

// DefaultMaxMessageBytes bounds one protocol message; see Options.
const DefaultMaxMessageBytes = 64 << 20

// maxStartupBytes bounds a startup-phase packet, as PostgreSQL does
// (MAX_STARTUP_PACKET_LENGTH).
const maxStartupBytes = 10000

// The request codes of the startup phase (the second word of a packet).
const (
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
	cancelRequestCode = 80877102
)

// Errors of the message reader. A connection whose peer sends a message
// that fails with one of them is closed by the proxy.
var (
	// ErrProtocol reports bytes that are not PostgreSQL frontend/backend
	// protocol version 3 messages: a length below its minimum, a startup
	// packet of an unknown kind, a field without its NUL terminator.
	ErrProtocol = errors.New("pgfault: protocol error")
	// ErrMessageTooLarge reports a message longer than the proxy's bound.
	ErrMessageTooLarge = errors.New("pgfault: message too large")
)

// frame is one protocol message as read.
type frame struct {
	typ  byte   // the message type; 0 for a startup-phase packet
	body []byte // the bytes after the length word
	raw  []byte // the whole message, to forward unchanged
}

// frameReader reads messages from r, keeping each one's exact bytes.
type frameReader struct {
	r   *bufio.Reader
	max int
}

func newFrameReader(r *bufio.Reader, max int) *frameReader {
	if max <= 0 {
		max = DefaultMaxMessageBytes
	}
	return &frameReader{r: r, max: max}
}

// readStartup reads one startup-phase packet: an int32 length (itself
// included) and the body, whose first int32 is a protocol version or a
// request code. It returns io.EOF when r ends before a packet begins.
func (fr *frameReader) readStartup() (frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return frame{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 8 || n > maxStartupBytes {
		return frame{}, fmt.Errorf("%w: startup packet of %d bytes", ErrProtocol, n)
	}
	raw := make([]byte, n)
	copy(raw, hdr[:])
	if _, err := io.ReadFull(fr.r, raw[4:]); err != nil {
		return frame{}, unexpectedEOF(err)
	}
	return frame{body: raw[4:], raw: raw}, nil
}

// readMessage reads one typed message: a type byte, an int32 length
// (itself included, not the type) and the body. It returns io.EOF when r
// ends before a message begins.
func (fr *frameReader) readMessage() (frame, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(fr.r, hdr[:1]); err != nil {
		return frame{}, err
	}
	if _, err := io.ReadFull(fr.r, hdr[1:]); err != nil {
		return frame{}, unexpectedEOF(err)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 {
		return frame{}, fmt.Errorf("%w: message %q of length %d", ErrProtocol, hdr[0], n)
	}
	if int64(n)+1 > int64(fr.max) {
		return frame{}, fmt.Errorf("%w: message %q of %d bytes (bound %d)", ErrMessageTooLarge, hdr[0], int64(n)+1, fr.max)
	}
	raw := make([]byte, 1+int(n))
	copy(raw, hdr[:])
	if _, err := io.ReadFull(fr.r, raw[5:]); err != nil {
		return frame{}, unexpectedEOF(err)
	}
	return frame{typ: hdr[0], body: raw[5:], raw: raw}, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// startupCode is the protocol version or request code of a startup packet.
func startupCode(f frame) uint32 { return binary.BigEndian.Uint32(f.body[:4]) }

// isProtocol3 reports a StartupMessage of protocol major version 3.
func isProtocol3(code uint32) bool { return code>>16 == 3 }

// cursor decodes the fields of a message body.
type cursor struct {
	b  []byte
	ok bool
}

func newCursor(b []byte) *cursor { return &cursor{b: b, ok: true} }

// cstring reads a NUL-terminated string.
func (c *cursor) cstring() string {
	i := bytes.IndexByte(c.b, 0)
	if i < 0 {
		c.ok = false
		return ""
	}
	s := string(c.b[:i])
	c.b = c.b[i+1:]
	return s
}

func (c *cursor) byte1() byte {
	if len(c.b) < 1 {
		c.ok = false
		return 0
	}
	v := c.b[0]
	c.b = c.b[1:]
	return v
}

func (c *cursor) err(what byte) error {
	if c.ok {
		return nil
	}
	return fmt.Errorf("%w: truncated %q message", ErrProtocol, what)
}

// parseMessage decodes a Parse ('P'): the statement's name and its query.
func parseMessage(body []byte) (name, query string, err error) {
	c := newCursor(body)
	name, query = c.cstring(), c.cstring()
	return name, query, c.err('P')
}

// bindMessage decodes the names of a Bind ('B'): the portal and the
// statement it binds.
func bindMessage(body []byte) (portal, stmt string, err error) {
	c := newCursor(body)
	portal, stmt = c.cstring(), c.cstring()
	return portal, stmt, c.err('B')
}

// executeMessage decodes the portal of an Execute ('E').
func executeMessage(body []byte) (portal string, err error) {
	c := newCursor(body)
	portal = c.cstring()
	return portal, c.err('E')
}

// closeMessage decodes a Close ('C') or a Describe ('D'): 'S' (a
// statement) or 'P' (a portal), and its name.
func closeMessage(typ byte, body []byte) (kind byte, name string, err error) {
	c := newCursor(body)
	kind, name = c.byte1(), c.cstring()
	if err := c.err(typ); err != nil {
		return 0, "", err
	}
	if kind != 'S' && kind != 'P' {
		return 0, "", fmt.Errorf("%w: %q message of kind %q", ErrProtocol, typ, kind)
	}
	return kind, name, nil
}

// queryMessage decodes a Query ('Q').
func queryMessage(body []byte) (string, error) {
	c := newCursor(body)
	q := c.cstring()
	return q, c.err('Q')
}

// Verb is the first keyword of query, upper-cased ("INSERT", "WITH",
// "COMMIT"), after leading blanks and SQL comments; "" when there is none.
// Stats counts statements by it.
func Verb(query string) string {
	s := query
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
			continue
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return ""
			}
			s = s[2+i+2:]
			continue
		}
		break
	}
	end := strings.IndexFunc(s, func(r rune) bool { return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || r == '_')) })
	if end < 0 {
		end = len(s)
	}
	return strings.ToUpper(s[:min(end, 32)])
}

// kind of a client message that the server answers.
type entryKind uint8

const (
	kStartup  entryKind = iota + 1 // the startup packet: answered up to ReadyForQuery
	kParse                         // ParseComplete
	kBind                          // BindComplete
	kDescribe                      // [ParameterDescription] RowDescription or NoData
	kClose                         // CloseComplete
	kExecute                       // a statement: rows, then CommandComplete, EmptyQueryResponse or PortalSuspended
	kSync                          // ReadyForQuery
	kQuery                         // a statement: everything up to ReadyForQuery
	kFunction                      // FunctionCallResponse, ReadyForQuery
)

// terminator: ReadyForQuery answers it.
func (k entryKind) terminator() bool {
	return k == kStartup || k == kSync || k == kQuery || k == kFunction
}

// statement: the rules may match it.
func (k entryKind) statement() bool { return k == kExecute || k == kQuery }

// entry is one client message awaiting the server's answer.
type entry struct {
	kind    entryKind
	query   string // a statement's text
	rule    *Rule  // the rule that claimed the statement; nil: none
	started bool   // the server's reply to the statement has begun
}

// session tracks one connection's prepared statements and portals, and
// pairs the server's messages with the client's, in order. The client's
// side calls fromClient, the server's side fromServer, concurrently.
type session struct {
	mu      sync.Mutex
	stmts   map[string]string // prepared statement name → query
	portals map[string]string // portal name → query of its statement
	pending []*entry          // client messages awaiting their answer, oldest first
}

func newSession() *session {
	return &session{stmts: map[string]string{}, portals: map[string]string{}}
}

// startup records the client's startup packet, answered up to the first
// ReadyForQuery.
func (s *session) startup() {
	s.mu.Lock()
	s.pending = append(s.pending, &entry{kind: kStartup})
	s.mu.Unlock()
}

// fromClient records f, a typed message from the client. A statement
// (Execute, or a simple Query) is passed to classify, and the rule it
// returns, if any, applies to the statement's reply. It returns an error
// for a message whose fields are malformed.
func (s *session) fromClient(f frame, classify func(query string) *Rule) error {
	var e *entry
	switch f.typ {
	case 'P':
		name, query, err := parseMessage(f.body)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.stmts[name] = query
		s.mu.Unlock()
		e = &entry{kind: kParse}
	case 'B':
		portal, stmt, err := bindMessage(f.body)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.portals[portal] = s.stmts[stmt]
		s.mu.Unlock()
		e = &entry{kind: kBind}
	case 'D':
		if _, _, err := closeMessage(f.typ, f.body); err != nil {
			return err
		}
		e = &entry{kind: kDescribe}
	case 'C':
		kind, name, err := closeMessage(f.typ, f.body)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if kind == 'S' {
			delete(s.stmts, name)
		} else {
			delete(s.portals, name)
		}
		s.mu.Unlock()
		e = &entry{kind: kClose}
	case 'E':
		portal, err := executeMessage(f.body)
		if err != nil {
			return err
		}
		s.mu.Lock()
		query := s.portals[portal]
		s.mu.Unlock()
		e = &entry{kind: kExecute, query: query}
	case 'S':
		e = &entry{kind: kSync}
	case 'Q':
		query, err := queryMessage(f.body)
		if err != nil {
			return err
		}
		e = &entry{kind: kQuery, query: query}
	case 'F':
		e = &entry{kind: kFunction}
	default:
		// Flush, Terminate, CopyData, CopyDone, CopyFail, password and
		// SASL responses: nothing to pair.
		return nil
	}
	if e.kind.statement() && classify != nil {
		e.rule = classify(e.query)
	}
	s.mu.Lock()
	s.pending = append(s.pending, e)
	s.mu.Unlock()
	return nil
}

// reply says what one server message is to the client's statements.
type reply struct {
	stmt  *entry // the statement whose reply the message belongs to; nil: none
	first bool   // the first message of stmt's reply
	end   bool   // the last message of stmt's reply
	ready bool   // ReadyForQuery: a Sync, a Query or the startup was answered
	// syncPending, after the message: a ReadyForQuery is still to come
	// for a message the client sent.
	syncPending bool
}

// fromServer pairs f, a typed message from the server, with the client's
// messages awaiting an answer.
func (s *session) fromServer(f frame) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r reply
	var head *entry
	if len(s.pending) > 0 {
		head = s.pending[0]
	}
	belongs := func() {
		if head != nil && head.kind.statement() {
			r.stmt, r.first = head, !head.started
			head.started = true
		}
	}
	switch f.typ {
	case 'N', 'A', 'S', 'K', 'R', 'v':
		// Notices, notifications, parameter statuses, and the startup
		// phase's messages: asynchronous, or answers to no message queued.
	case '1':
		s.popIf(head, kParse)
	case '2':
		s.popIf(head, kBind)
	case '3':
		s.popIf(head, kClose)
	case 't':
		// ParameterDescription: the first part of a statement's Describe.
	case 'T', 'n':
		if head != nil && head.kind == kDescribe {
			s.pop()
		} else {
			belongs() // a simple query's row description
		}
	case 'C', 'I', 's':
		belongs()
		if head != nil && head.kind == kExecute {
			r.end = true
			s.pop()
		}
	case 'E':
		belongs()
		if head != nil && !head.kind.terminator() {
			// An error in the extended protocol: the server skips the
			// client's messages up to the next Sync.
			r.end = head.kind == kExecute
			for len(s.pending) > 0 && !s.pending[0].kind.terminator() {
				s.pop()
			}
		}
	case 'Z':
		belongs()
		r.ready = true
		r.end = r.stmt != nil && r.stmt.kind == kQuery
		for len(s.pending) > 0 {
			e := s.pop()
			if e.kind.terminator() {
				break
			}
		}
	default:
		// DataRow, the copy messages, FunctionCallResponse: part of the
		// reply under way.
		belongs()
	}
	for _, e := range s.pending {
		if e.kind.terminator() {
			r.syncPending = true
			break
		}
	}
	return r
}

func (s *session) popIf(head *entry, k entryKind) {
	if head != nil && head.kind == k {
		s.pop()
	}
}

func (s *session) pop() *entry {
	e := s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	return e
}
