package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hookwise/hookwise/internal/pattern"
	"github.com/hookwise/hookwise/receiver"
)

// Filter is a receiver filter (receiver.WithFilter): it reports whether the
// receiver keeps a verified event; one it does not keep is acknowledged and
// dropped without being queued.
type Filter = func(ctx context.Context, e *receiver.Event) bool

// Types returns a filter that keeps the events whose type matches one of
// patterns, in the Mux's grammar ("invoice.paid", "invoice.*", "issues",
// "*"), and drops the others. It panics when a pattern is outside the
// grammar or none is given: a programming error, as in Mux.Handle.
func Types(patterns ...string) Filter {
	if len(patterns) == 0 {
		panic("flow: Types needs at least one pattern")
	}
	ps := make([]pattern.Pattern, len(patterns))
	for i, s := range patterns {
		p, err := pattern.Parse(s)
		if err != nil {
			panic("flow: " + err.Error())
		}
		ps[i] = p
	}
	return func(_ context.Context, e *receiver.Event) bool {
		for _, p := range ps {
			if p.Rank(e.Type) > 0 {
				return true
			}
		}
		return false
	}
}

// Handled returns a filter that keeps the events th has a handler for,
// other than a catch-all (TypeHandler.Handles; a *receiver.Mux is one), and
// drops the others before they are queued, instead of acknowledging them
// with receiver.ErrNoHandler after a trip through the queue. A Mux with a
// "*" handler keeps only the types it names otherwise: use Types then.
func Handled(th receiver.TypeHandler) Filter {
	if th == nil {
		panic("flow: Handled given a nil TypeHandler")
	}
	return func(_ context.Context, e *receiver.Event) bool { return th.Handles(e.Type) }
}

// MaxFieldDepth bounds the path of Field: at most this many names.
const MaxFieldDepth = 16

// Field returns a filter on a field of the payload (opt-in: it parses the
// JSON document, Event.JSON, of every delivery, on the request path): it
// keeps an event when the field at path, names separated by dots
// ("data.object.livemode"), holds one of values: a string equal to one of
// them, or a number, true, false or null whose JSON text is one of them
// ("42", "true"). It drops the event when the field is missing, is an
// object or array, or the payload is not a JSON object. Array elements are
// not addressed. It panics when path is empty, has an empty name, or has
// more than MaxFieldDepth names, or when no value is given.
//
// A filter on a field never sees a forged delivery (filters run after
// verification), but the payload is still the sender's: keep the fields
// tested few and the values exact.
func Field(path string, values ...string) Filter {
	names := fieldPath("Field", path)
	if len(values) == 0 {
		panic("flow: Field needs at least one value")
	}
	want := make(map[string]bool, len(values))
	for _, v := range values {
		want[v] = true
	}
	return func(_ context.Context, e *receiver.Event) bool {
		v, ok := lookup(e.JSON(), names)
		return ok && want[v]
	}
}

// fieldPath splits a field path into its names; it panics, naming fn, when
// path is empty, has an empty name, or has more than MaxFieldDepth names.
func fieldPath(fn, path string) []string {
	names := strings.Split(path, ".")
	if path == "" || len(names) > MaxFieldDepth {
		panic(fmt.Sprintf("flow: %s needs a path of 1 to %d names", fn, MaxFieldDepth))
	}
	for _, n := range names {
		if n == "" {
			panic("flow: " + fn + " path with an empty name")
		}
	}
	return names
}

// lookup returns the value at names in the JSON document doc: a string
// unquoted, a number, boolean or null as its JSON text. It reports false
// when the path is missing or leads to an object or array, or doc is not
// valid JSON along the way.
func lookup(doc []byte, names []string) (string, bool) {
	raw := json.RawMessage(doc)
	for _, n := range names {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return "", false
		}
		v, ok := obj[n]
		if !ok {
			return "", false
		}
		raw = v
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '{', '[':
		return "", false
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	}
	return string(raw), true
}
