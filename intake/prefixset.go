package intake

import (
	"net/netip"
	"sort"
	"sync/atomic"
)

// u128 is an address as a 128-bit number (an IPv4 address uses the low 32
// bits of lo).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

// succ is a+1 and whether it did not overflow.
func (a u128) succ() (u128, bool) {
	if a.lo != ^uint64(0) {
		return u128{a.hi, a.lo + 1}, true
	}
	if a.hi != ^uint64(0) {
		return u128{a.hi + 1, 0}, true
	}
	return u128{}, false
}

// span is an inclusive range of addresses of one family.
type span struct{ lo, hi u128 }

// PrefixSet is an immutable set of IP prefixes, stored as sorted, merged
// ranges per address family: a lookup is a binary search, O(log n) in the
// number of ranges. IPv4 and IPv6 are separate families: 0.0.0.0/0 does not
// match an IPv6 address and ::/0 does not match an IPv4 one. A prefix
// written in IPv4-mapped IPv6 form (::ffff:192.0.2.0/120) is stored as the
// IPv4 prefix it names (192.0.2.0/24). The zero value and a nil *PrefixSet
// are empty. A PrefixSet is safe for concurrent use.
type PrefixSet struct {
	v4, v6 []span
	n      int
}

// NewPrefixSet returns the set of the valid prefixes among prefixes; host
// bits are ignored (192.0.2.7/24 is 192.0.2.0/24) and invalid (zero-value)
// prefixes are skipped. Overlapping and adjacent prefixes merge.
func NewPrefixSet(prefixes ...netip.Prefix) *PrefixSet {
	s := &PrefixSet{}
	for _, p := range prefixes {
		p, ok := normPrefix(p)
		if !ok {
			continue
		}
		s.n++
		if p.Addr().Is4() {
			s.v4 = append(s.v4, span4(p))
		} else {
			s.v6 = append(s.v6, span6(p))
		}
	}
	s.v4 = merge(s.v4)
	s.v6 = merge(s.v6)
	return s
}

// normPrefix masks p, turns an IPv4-mapped prefix of /96 or longer into its
// IPv4 prefix and reports whether p is usable.
func normPrefix(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() {
		return netip.Prefix{}, false
	}
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), true
	}
	return netip.PrefixFrom(a, p.Bits()).Masked(), true
}

func span4(p netip.Prefix) span {
	b := p.Addr().As4()
	lo := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	host := uint64(1)<<(32-p.Bits()) - 1
	return span{u128{0, lo}, u128{0, lo | host}}
}

func span6(p netip.Prefix) span {
	lo := key6(p.Addr())
	hi := lo
	bits := p.Bits()
	switch {
	case bits == 0:
		hi = u128{^uint64(0), ^uint64(0)}
	case bits < 64:
		hi.hi |= ^uint64(0) >> bits
		hi.lo = ^uint64(0)
	case bits < 128:
		hi.lo |= ^uint64(0) >> (bits - 64)
	}
	return span{lo, hi}
}

func key4(a netip.Addr) u128 {
	b := a.As4()
	return u128{0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
}

func key6(a netip.Addr) u128 {
	b := a.As16()
	var k u128
	for i := 0; i < 8; i++ {
		k.hi = k.hi<<8 | uint64(b[i])
		k.lo = k.lo<<8 | uint64(b[i+8])
	}
	return k
}

// merge sorts spans and merges overlapping and adjacent ones.
func merge(ss []span) []span {
	if len(ss) == 0 {
		return nil
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].lo.less(ss[j].lo) })
	out := ss[:1]
	for _, s := range ss[1:] {
		cur := &out[len(out)-1]
		next, ok := cur.hi.succ()
		if !ok || !next.less(s.lo) { // s starts inside cur or right after it
			if cur.hi.less(s.hi) {
				cur.hi = s.hi
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// Contains reports whether a is in the set. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is looked up as the IPv4 address it carries, and an IPv6
// zone (fe80::1%eth0) is ignored. The zero Addr is in no set.
func (s *PrefixSet) Contains(a netip.Addr) bool {
	if s == nil || !a.IsValid() {
		return false
	}
	a = a.WithZone("").Unmap()
	spans, k := s.v6, u128{}
	if a.Is4() {
		spans, k = s.v4, key4(a)
	} else {
		k = key6(a)
	}
	i := sort.Search(len(spans), func(i int) bool { return !spans[i].hi.less(k) })
	return i < len(spans) && !k.less(spans[i].lo)
}

// Len is the number of valid prefixes the set was built from (before
// merging).
func (s *PrefixSet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Ranges is the number of merged address ranges the set holds, the n of a
// lookup's O(log n).
func (s *PrefixSet) Ranges() int {
	if s == nil {
		return 0
	}
	return len(s.v4) + len(s.v6)
}

// List is an allow-list that can be replaced while requests read it: Store
// swaps the whole set atomically, so a request sees either the old set or the
// new one, never a mix. A List that has never been stored to is unloaded, and
// AllowList answers 503 with Retry-After for it rather than refusing
// everyone. A List is safe for concurrent use.
type List struct {
	p atomic.Pointer[PrefixSet]
}

// NewList returns a List holding set, or an unloaded List when set is nil.
func NewList(set *PrefixSet) *List {
	l := &List{}
	if set != nil {
		l.p.Store(set)
	}
	return l
}

// Store replaces the list's set. A nil set makes the list unloaded again.
func (l *List) Store(set *PrefixSet) { l.p.Store(set) }

// Load returns the current set, nil when the list is unloaded.
func (l *List) Load() *PrefixSet { return l.p.Load() }
