package eventpattern

import (
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// vkind is the JSON type of an event value.
type vkind uint8

const (
	vString vkind = iota
	vNumber
	vTrue
	vFalse
	vNull
)

// value is a leaf of the event at a path a rule refers to.
type value struct {
	kind vkind
	s    string // decoded string, or the number's text
	// t0, t1 delimit the value's array trail in scratch.trail: the
	// (array, element) pairs of the arrays of objects that enclose it.
	t0, t1 int32
	next   int32 // next value at the same path, or -1
}

// match reports whether a present value satisfies m. mAbsent never does:
// absence is decided by the caller.
func (m *matcher) match(v *value) bool {
	switch m.kind {
	case mString:
		if v.kind != vString {
			return false
		}
		if v.s == m.s {
			return true
		}
		if !m.ip.IsValid() {
			return false
		}
		a, err := netip.ParseAddr(v.s)
		return err == nil && a.Zone() == "" && a.Unmap() == m.ip
	case mNumber:
		if v.kind != vNumber {
			return false
		}
		if v.s == m.s {
			return true
		}
		if !m.qok {
			return false
		}
		q, ok := quantize(v.s)
		return ok && q == m.q
	case mLiteral:
		return v.kind == m.lit
	case mPrefix:
		return v.kind == vString && strings.HasPrefix(v.s, m.s)
	case mSuffix:
		return v.kind == vString && strings.HasSuffix(v.s, m.s)
	case mPrefixFold:
		return v.kind == vString && hasPrefixFold(v.s, m.s)
	case mSuffixFold:
		return v.kind == vString && hasSuffixFold(v.s, m.s)
	case mEqualsFold:
		return v.kind == vString && strings.EqualFold(v.s, m.s)
	case mWildcard:
		return v.kind == vString && m.wc.match(v.s)
	case mNumeric:
		if v.kind != vNumber {
			return false
		}
		q, ok := quantize(v.s)
		if !ok {
			return false
		}
		if m.hasLo && (q < m.lo || (m.loOpen && q == m.lo)) {
			return false
		}
		if m.hasHi && (q > m.hi || (m.hiOp && q == m.hi)) {
			return false
		}
		return true
	case mCIDR:
		if v.kind != vString {
			return false
		}
		a, err := netip.ParseAddr(v.s)
		if err != nil {
			return false
		}
		return m.cidr.Contains(a.Unmap().WithZone(""))
	case mExists:
		return true
	case mNot:
		for i := range m.inner {
			if m.inner[i].match(v) {
				return false
			}
		}
		return true
	}
	return false
}

// equalFoldRune reports whether two runes are equal under simple Unicode
// case folding, as strings.EqualFold compares them.
func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// hasPrefixFold reports whether s begins with p, ignoring case rune by
// rune (the byte lengths may differ).
func hasPrefixFold(s, p string) bool {
	for p != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeRuneInString(p)
		sr, sn := utf8.DecodeRuneInString(s)
		if !equalFoldRune(pr, sr) {
			return false
		}
		p, s = p[pn:], s[sn:]
	}
	return true
}

// hasSuffixFold reports whether s ends with p, ignoring case.
func hasSuffixFold(s, p string) bool {
	for p != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeLastRuneInString(p)
		sr, sn := utf8.DecodeLastRuneInString(s)
		if !equalFoldRune(pr, sr) {
			return false
		}
		p, s = p[:len(p)-pn], s[:len(s)-sn]
	}
	return true
}
