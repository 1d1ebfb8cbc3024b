package schema

import (
	"strconv"
	"strings"

	"github.com/hookwise/hookwise/receiver"
)

// CompareVersions orders two payload versions. It returns -1, 0 or +1 and
// ok == true when both versions have the same comparable form:
//
//   - date-like: "YYYY-MM-DD" with an optional suffix after a dot, as Stripe's
//     "2024-06-20" and "2025-03-31.basil"; dates compare chronologically,
//     then equal dates by suffix (no suffix first, then byte order);
//   - numeric: an optional "v"/"V" and dot-separated decimal numbers, as
//     "v1", "v2", "v10", "1.2"; components compare numerically, a missing
//     component counts as 0 ("v1" == "v1.0").
//
// Otherwise ok is false: such versions only ever match exactly.
func CompareVersions(a, b string) (cmp int, ok bool) {
	ka, oka := versionKey(a)
	kb, okb := versionKey(b)
	if !oka || !okb || ka.date != kb.date {
		return 0, false
	}
	n := max(len(ka.nums), len(kb.nums))
	for i := range n {
		var x, y uint64
		if i < len(ka.nums) {
			x = ka.nums[i]
		}
		if i < len(kb.nums) {
			y = kb.nums[i]
		}
		if x != y {
			if x < y {
				return -1, true
			}
			return 1, true
		}
	}
	return strings.Compare(ka.suffix, kb.suffix), true
}

type vkey struct {
	date   bool
	nums   []uint64
	suffix string
}

func versionKey(v string) (vkey, bool) {
	if len(v) >= 10 && v[4] == '-' && v[7] == '-' && (len(v) == 10 || v[10] == '.') {
		y, e1 := strconv.ParseUint(v[0:4], 10, 16)
		m, e2 := strconv.ParseUint(v[5:7], 10, 8)
		d, e3 := strconv.ParseUint(v[8:10], 10, 8)
		if e1 == nil && e2 == nil && e3 == nil && m >= 1 && m <= 12 && d >= 1 && d <= 31 {
			k := vkey{date: true, nums: []uint64{y, m, d}}
			if len(v) > 10 {
				k.suffix = v[11:]
			}
			return k, true
		}
		return vkey{}, false
	}
	s := strings.TrimPrefix(strings.TrimPrefix(v, "v"), "V")
	if s == "" {
		return vkey{}, false
	}
	parts := strings.Split(s, ".")
	k := vkey{nums: make([]uint64, 0, len(parts))}
	for _, p := range parts {
		if p == "" || p[0] == '+' || p[0] == '-' {
			return vkey{}, false
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return vkey{}, false
		}
		k.nums = append(k.nums, n)
	}
	return k, true
}

// VersionResolver finds the payload version of a delivery. doc is the
// decoded JSON payload (objects are map[string]any, numbers json.Number),
// or nil when it was not decoded. It returns "" when it cannot tell.
type VersionResolver func(e *receiver.Event, doc any) string

// FromEvent resolves the version the provider set on the event
// (Event.Version: Stripe's api_version).
func FromEvent() VersionResolver {
	return func(e *receiver.Event, _ any) string { return e.Version }
}

// FromHeader resolves the version from the first value of a request header.
func FromHeader(name string) VersionResolver {
	return func(e *receiver.Event, _ any) string {
		if e.Header == nil {
			return ""
		}
		return strings.TrimSpace(e.Header.Get(name))
	}
}

// FromField resolves the version from a top-level string or number field of
// the JSON payload ("api_version", "version").
func FromField(name string) VersionResolver {
	return func(_ *receiver.Event, doc any) string {
		m, ok := doc.(map[string]any)
		if !ok {
			return ""
		}
		switch v := m[name].(type) {
		case string:
			return v
		case interface{ String() string }: // json.Number
			return v.String()
		}
		return ""
	}
}

// Default resolves every delivery to version v.
func Default(v string) VersionResolver {
	return func(*receiver.Event, any) string { return v }
}

// FirstOf returns the first non-empty version of rs, in order.
func FirstOf(rs ...VersionResolver) VersionResolver {
	return func(e *receiver.Event, doc any) string {
		for _, r := range rs {
			if v := r(e, doc); v != "" {
				return v
			}
		}
		return ""
	}
}
