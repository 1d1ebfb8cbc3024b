package flow

import (
	"slices"
	"strings"

	"github.com/hookwise/hookwise/internal/pattern"
	"github.com/hookwise/hookwise/receiver"
)

// Key is an ordering key function (receiver.Ordering.Key): events with one
// key are handled one at a time, in order; "" leaves an event unordered.
type Key = func(e *receiver.Event) string

// MaxKeyBytes bounds a key FieldKey returns: a longer value leaves the
// event unordered rather than be cut (two values cut alike would share a
// line).
const MaxKeyBytes = 1024

// FieldKey returns an ordering key: the value of the payload field at path,
// names separated by dots, as Field reads it ("data.object.id" for
// Stripe's object, "data.object.customer" for its customer,
// "repository.id" for GitHub's repository). An event whose payload lacks
// the field, holds an object or array there, or holds a value longer than
// MaxKeyBytes, is unordered. It panics when path is empty, has an empty
// name, or has more than MaxFieldDepth names.
//
// The key is read on the request path and before each attempt: one parse
// of the payload each time.
func FieldKey(path string) Key {
	names := fieldPath("FieldKey", path)
	return func(e *receiver.Event) string {
		v, ok := lookup(e.JSON(), names)
		if !ok || len(v) > MaxKeyBytes {
			return ""
		}
		return v
	}
}

// RouteKeys returns an ordering key that orders each route its own way:
// routes maps patterns, in the Mux's grammar, to the key of the events they
// take; the most specific pattern matching an event's type picks its key,
// as in a Mux, and events no pattern takes are unordered. The key is
// prefixed with the pattern, so that two routes never share a line.
//
//	flow.RouteKeys(map[string]flow.Key{
//		"invoice.*":  flow.FieldKey("data.object.customer"),
//		"customer.*": flow.FieldKey("data.object.id"),
//	})
//
// It panics when a pattern is outside the grammar or a key is nil.
func RouteKeys(routes map[string]Key) Key {
	type route struct {
		name string
		p    pattern.Pattern
		key  Key
	}
	rs := make([]route, 0, len(routes))
	for s, k := range routes {
		p, err := pattern.Parse(s)
		if err != nil {
			panic("flow: " + err.Error())
		}
		if k == nil {
			panic("flow: nil key for route " + s)
		}
		rs = append(rs, route{s, p, k})
	}
	// Patterns that rank alike for a type ("invoice" and "invoice.*") pick
	// the first by name, whatever the map's order.
	slices.SortFunc(rs, func(a, b route) int { return strings.Compare(a.name, b.name) })
	return func(e *receiver.Event) string {
		best, rank := -1, 0
		for i, r := range rs {
			if n := r.p.Rank(e.Type); n > rank {
				best, rank = i, n
			}
		}
		if best < 0 {
			return ""
		}
		k := rs[best].key(e)
		if k == "" {
			return ""
		}
		return rs[best].name + "\x00" + k
	}
}
