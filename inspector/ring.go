package inspector

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/hookwise/hookwise/internal/textcut"
	"github.com/hookwise/hookwise/receiver"
)

// Bounds of what one entry keeps besides its payload.
const (
	maxSteps      = 16  // stages remembered per delivery (the first and the latest ones)
	maxErrBytes   = 300 // an error or reason text
	maxFieldBytes = 256 // provider, event ID, type, labels
	entryOverhead = 512 // the fixed part of an entry, counted against MaxTotalBytes
	stepOverhead  = 64
)

// step is one stage a delivery went through.
type step struct {
	Stage    string    `json:"stage"`
	At       time.Time `json:"at"`
	Status   int       `json:"status,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Err      string    `json:"error,omitempty"`
	Attempt  int       `json:"attempt,omitempty"`
	Duration string    `json:"duration,omitempty"`
	// QueueWait: from the acknowledgement to the first attempt's start.
	QueueWait string `json:"queue_wait,omitempty"`
	// Skew: receive time minus the timestamp the sender signed.
	Skew string `json:"skew,omitempty"`
}

// summary is what the deliveries list shows of an entry.
type summary struct {
	ID       uint64    `json:"id"`
	Version  uint64    `json:"version"`
	Receiver string    `json:"receiver"`
	Provider string    `json:"provider"`
	EventID  string    `json:"event_id,omitempty"`
	Type     string    `json:"type,omitempty"`
	First    time.Time `json:"first"`
	Stage    string    `json:"stage"`
	Status   int       `json:"status,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Err      string    `json:"error,omitempty"`
	Attempt  int       `json:"attempt,omitempty"`
	requestLine
	Steps []step `json:"steps"`
}

// requestLine is what the page shows of the request that carried a
// delivery.
type requestLine struct {
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Query  string `json:"query,omitempty"`
	Remote string `json:"remote,omitempty"`
}

// detail is what the page shows of one delivery when it is opened.
type detail struct {
	summary
	Headers          []headerLine `json:"headers"`
	HeadersOmitted   int          `json:"headers_omitted,omitempty"`
	Payload          string       `json:"payload"`
	PayloadKind      string       `json:"payload_kind"`
	PayloadBytes     int          `json:"payload_bytes"`
	PayloadTruncated bool         `json:"payload_truncated,omitempty"`
}

type entry struct {
	d     detail
	claim string // the index key, "" when not indexed
	size  int64
}

func (e *entry) computeSize() int64 {
	n := int64(entryOverhead + len(e.d.Receiver) + len(e.d.Provider) + len(e.d.EventID) + len(e.d.Type) +
		len(e.d.Reason) + len(e.d.Err) + len(e.d.Method) + len(e.d.Path) + len(e.d.Query) + len(e.d.Remote) + len(e.d.Payload))
	for _, h := range e.d.Headers {
		n += int64(len(h.Name) + len(h.Value) + 16)
	}
	for _, s := range e.d.Steps {
		n += int64(stepOverhead + len(s.Reason) + len(s.Err))
	}
	return n + int64(len(e.claim))
}

// ring keeps the latest deliveries, bounded by count and by bytes.
type ring struct {
	mu       sync.Mutex
	buf      []*entry // circular, capacity entries
	start, n int
	bytes    int64
	maxBytes int64
	nextID   uint64
	version  uint64
	claims   map[string]*entry // by receiver label and claim token
}

func newRing(capacity int, maxBytes int64) *ring {
	return &ring{buf: make([]*entry, capacity), maxBytes: maxBytes, nextID: 1, claims: make(map[string]*entry)}
}

func (g *ring) at(i int) *entry { return g.buf[(g.start+i)%len(g.buf)] }

func (g *ring) evictOldest() {
	e := g.buf[g.start]
	g.buf[g.start] = nil
	g.start = (g.start + 1) % len(g.buf)
	g.n--
	g.bytes -= e.size
	if e.claim != "" && g.claims[e.claim] == e {
		delete(g.claims, e.claim)
	}
}

// fit evicts the oldest entries, never keep, until the bytes bound holds.
func (g *ring) fit(keep *entry) {
	for g.bytes > g.maxBytes && g.n > 0 && g.at(0) != keep {
		g.evictOldest()
	}
}

// Stats describes what an Inspector holds.
type Stats struct {
	Deliveries int   // deliveries kept (at most Options.Capacity)
	Bytes      int64 // their approximate size (at most Options.MaxTotalBytes, but for a single delivery larger than it)
}

func (g *ring) stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Stats{Deliveries: g.n, Bytes: g.bytes}
}

// since returns the summaries of entries changed after version, oldest
// first, with the current version and the ID of the oldest entry kept.
func (g *ring) since(version uint64) (out []summary, current, oldest uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.n {
		e := g.at(i)
		if e.d.Version > version {
			s := e.d.summary
			s.Steps = append([]step(nil), s.Steps...)
			out = append(out, s)
		}
	}
	if g.n > 0 {
		oldest = g.at(0).d.ID
	}
	return out, g.version, oldest
}

func (g *ring) get(id uint64) (detail, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		return detail{}, false
	}
	first := g.at(0).d.ID
	if id < first || id-first >= uint64(g.n) {
		return detail{}, false
	}
	d := g.at(int(id - first)).d
	d.Steps = append([]step(nil), d.Steps...)
	return d, true
}

// observer feeds one receiver's observations to the inspector's ring.
type observer struct {
	ins   *Inspector
	label string // "" for the provider's name
}

// Observe records o. It copies what it keeps, bounded, and retains neither
// the request nor the event.
func (ob observer) Observe(_ context.Context, o receiver.Observation) {
	ob.ins.observe(ob.label, o)
}

func (ins *Inspector) observe(label string, o receiver.Observation) {
	if label == "" {
		label = o.Provider
	}
	label = textcut.Cut(label, maxFieldBytes)
	now := ins.now()
	st := step{Stage: o.Stage.String(), At: now, Status: o.Status, Reason: textcut.Cut(o.Reason, maxFieldBytes)}
	if o.Err != nil {
		st.Err = textcut.Cut(o.Err.Error(), maxErrBytes)
	}
	if o.Duration > 0 {
		st.Duration = o.Duration.String()
	}
	if o.QueueWait > 0 {
		st.QueueWait = o.QueueWait.String()
	}
	if o.HasSkew {
		st.Skew = o.Skew.Round(time.Millisecond).String()
	}
	ev := o.Event
	// On the request path the event is already queued: a worker may be
	// setting its Payload and Attempt. Only what is fixed before enqueueing
	// (ID, type, claim, headers, body) is read then.
	requestPath := o.Stage == receiver.StageEnqueued || o.Stage == receiver.StageDuplicate ||
		o.Stage == receiver.StageRejected || o.Stage == receiver.StageHandshake || o.Request != nil
	if ev != nil && !requestPath {
		st.Attempt = ev.Attempt
	}
	claim := ""
	if ev != nil && ev.ClaimToken != "" {
		claim = label + "\x00" + ev.ClaimToken
	}

	var rq requestLine
	var rqHeaders []headerLine // the request's headers, rendered
	var rqOmitted int
	if r := o.Request; r != nil {
		rq.Method = textcut.Cut(r.Method, 16)
		if r.URL != nil {
			rq.Path = textcut.Cut(r.URL.Path, maxPathBytes)
			rq.Query = ins.red.query(r.URL.RawQuery)
		}
		rq.Remote = textcut.Cut(r.RemoteAddr, 64)
		rqHeaders, rqOmitted = ins.red.renderHeaders(r.Header)
	}
	// A worker's stage can come before the request path's (a fast handler
	// runs before the acknowledgement is observed): the entry it made shows
	// the event's headers, which lack those the receiver drops. The request
	// path's stage then brings the request line and the request's headers.
	adopt := func(e *entry) {
		if e.d.Method == "" && o.Request != nil {
			e.d.requestLine = rq
			e.d.Headers, e.d.HeadersOmitted = rqHeaders, rqOmitted
		}
	}

	g := ins.ring
	g.mu.Lock()
	if e := g.claims[claim]; claim != "" && e != nil {
		g.version++
		e.d.Version = g.version
		adopt(e)
		ins.apply(e, st)
		g.bytes -= e.size
		e.size = e.computeSize()
		g.bytes += e.size
		g.fit(e)
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()

	// A new delivery: render outside the lock, the costly part.
	e := &entry{}
	e.d.Receiver = label
	e.d.Provider = textcut.Cut(o.Provider, maxFieldBytes)
	e.d.First = now
	e.d.requestLine = rq
	e.d.Headers, e.d.HeadersOmitted = rqHeaders, rqOmitted
	if o.Request == nil { // a worker's stage: the event's headers
		var h http.Header
		if ev != nil {
			h = ev.Header
		}
		e.d.Headers, e.d.HeadersOmitted = ins.red.renderHeaders(h)
	}
	if ev != nil {
		e.d.EventID = textcut.Cut(ev.ID, maxFieldBytes)
		e.d.Type = textcut.Cut(ev.Type, maxFieldBytes)
		doc := ev.Body
		if !requestPath && ev.Payload != nil {
			doc = ev.Payload // the document the handler decodes
		}
		p := ins.red.renderPayload(doc, ev.Header.Get("Content-Type"), ins.opts.MaxEntryBytes)
		e.d.Payload, e.d.PayloadKind, e.d.PayloadTruncated = p.Text, p.Kind, p.Truncated
		e.d.PayloadBytes = len(doc)
	} else {
		e.d.PayloadKind = kindNone
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if old := g.claims[claim]; claim != "" && old != nil {
		// Another stage of the same delivery got here first.
		g.version++
		old.d.Version = g.version
		adopt(old)
		ins.apply(old, st)
		g.bytes -= old.size
		old.size = old.computeSize()
		g.bytes += old.size
		g.fit(old)
		return
	}
	if g.n == len(g.buf) {
		g.evictOldest()
	}
	g.version++
	e.d.ID, e.d.Version = g.nextID, g.version
	g.nextID++
	ins.apply(e, st)
	if claim != "" {
		e.claim = claim
		g.claims[claim] = e
	}
	e.size = e.computeSize()
	g.buf[(g.start+g.n)%len(g.buf)] = e
	g.n++
	g.bytes += e.size
	g.fit(e)
}

// apply records a stage on an entry: its latest state, and the step, kept
// among the first one and the latest maxSteps-1. The acknowledgement is
// observed after the event is queued, so a fast worker's stages can come
// first: it then goes before them and changes only the status.
func (ins *Inspector) apply(e *entry, st step) {
	if st.Stage == receiver.StageEnqueued.String() && len(e.d.Steps) > 0 {
		e.d.Status = st.Status
		if st.At.Before(e.d.First) {
			e.d.First = st.At
		}
		if len(e.d.Steps) == maxSteps {
			e.d.Steps = e.d.Steps[:maxSteps-1]
		}
		e.d.Steps = append([]step{st}, e.d.Steps...)
		return
	}
	e.d.Stage, e.d.Reason, e.d.Err = st.Stage, st.Reason, st.Err
	if st.Status != 0 {
		e.d.Status = st.Status // the answer; handler stages have none
	}
	if st.Attempt > 0 {
		e.d.Attempt = st.Attempt
	}
	if len(e.d.Steps) == maxSteps {
		copy(e.d.Steps[1:], e.d.Steps[2:])
		e.d.Steps = e.d.Steps[:maxSteps-1]
	}
	e.d.Steps = append(e.d.Steps, st)
}
