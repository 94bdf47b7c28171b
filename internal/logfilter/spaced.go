package logfilter

import (
	"strconv"
	"strings"
)

// spacePattern is a compiled `[ ... ]` pattern.
type spacePattern struct {
	slots []slot
	names map[string]int // slot index of each named slot
}

type slotKind uint8

const (
	slotField    slotKind = iota // one field, maybe named, maybe with conditions
	slotEllipsis                 // "...": any number of fields
)

type slot struct {
	kind slotKind
	name string
	// cond is an OR of ANDs of conditions; nil means no condition.
	cond [][]spaceCond
	// local is true when every condition names this slot, so it can be
	// checked while aligning slots with fields.
	local bool
}

type spaceCond struct {
	name string
	slot int // resolved slot index
	op   op
	lit  literal
}

// maxAlignSteps bounds the work of aligning slots with fields when a pattern
// has several "..." (which can align in many ways); past it the event does
// not match.
const maxAlignSteps = 100_000

func parseSpacePattern(s string, open int) (*spacePattern, *Error) {
	// Find the closing ']' outside quotes.
	end := -1
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			_, next, err := scanQuoted(s, i)
			if err != nil {
				return nil, err
			}
			i = next - 1
		case ']':
			end = i
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 {
		return nil, patternError(open, "missing ] at the end of the space-delimited pattern")
	}
	if rest := skipSpace(s, end+1); rest != len(s) {
		return nil, patternError(rest, "unexpected text after the closing ]")
	}
	p := &spacePattern{names: map[string]int{}}
	// Split at commas outside quotes.
	start := open + 1
	for i := open + 1; i <= end; i++ {
		if i < end && s[i] == '"' {
			_, next, err := scanQuoted(s, i)
			if err != nil {
				return nil, err
			}
			i = next - 1
			continue
		}
		if i == end || s[i] == ',' {
			sl, err := parseSlot(s, start, i)
			if err != nil {
				return nil, err
			}
			if sl.name != "" {
				if _, dup := p.names[sl.name]; dup {
					return nil, patternError(skipSpace(s, start), "field %q is declared twice", sl.name)
				}
				p.names[sl.name] = len(p.slots)
			}
			p.slots = append(p.slots, sl)
			start = i + 1
		}
	}
	if len(p.slots) == 1 && p.slots[0].kind == slotField && p.slots[0].name == "" {
		return nil, patternError(open, "empty space-delimited pattern: name the fields, as in [ip, user, ...]")
	}
	for si := range p.slots {
		sl := &p.slots[si]
		sl.local = true
		for ai := range sl.cond {
			for ci := range sl.cond[ai] {
				c := &sl.cond[ai][ci]
				idx, ok := p.names[c.name]
				if !ok {
					return nil, patternError(open, "field %q in a condition is not one of the pattern's fields", c.name)
				}
				c.slot = idx
				if idx != si {
					sl.local = false
				}
			}
		}
	}
	return p, nil
}

// parseSlot parses s[from:to], one comma-separated element.
func parseSlot(s string, from, to int) (slot, *Error) {
	i := skipSpace(s, from)
	if i >= to {
		return slot{kind: slotField}, nil
	}
	if strings.TrimSpace(s[i:to]) == "..." {
		return slot{kind: slotEllipsis}, nil
	}
	sl := slot{kind: slotField}
	var and []spaceCond
	for {
		i = skipSpace(s, i)
		j := i
		for j < to && (isNameByte(s[j]) && s[j] != '-') {
			j++
		}
		if j == i {
			if i < to && s[i] == '%' {
				return slot{}, patternError(i, "regular expressions (%%...%%) are not supported")
			}
			return slot{}, patternError(i, "expected a field name")
		}
		name := s[i:j]
		if sl.name == "" {
			sl.name = name
		}
		i = skipSpace(s, j)
		if i >= to {
			if sl.cond == nil && len(and) == 0 && name == sl.name {
				return sl, nil // a bare name
			}
			return slot{}, patternError(i, "expected an operator after field %q", name)
		}
		o, n := scanOp(s, i)
		if n == 0 {
			return slot{}, patternError(i, "expected an operator (=, !=, <, >, <=, >=) after field %q", name)
		}
		opPos := i
		i = skipSpace(s, i+n)
		if i >= to {
			return slot{}, patternError(i, "expected a value after %s", opText[o])
		}
		var lit literal
		switch {
		case s[i] == '"':
			text, next, err := scanQuoted(s, i)
			if err != nil {
				return slot{}, err
			}
			lit, i = newLiteral(text, true), next
		case s[i] == '%':
			return slot{}, patternError(i, "regular expressions (%%...%%) are not supported")
		default:
			j := i
			for j < to && !isSpace(s[j]) && s[j] != '&' && s[j] != '|' {
				j++
			}
			if j == i {
				return slot{}, patternError(i, "expected a value after %s", opText[o])
			}
			lit, i = newLiteral(s[i:j], false), j
		}
		if o != opEq && o != opNe && !lit.isNum {
			return slot{}, patternError(opPos, "the %s operator needs a number, found %q", opText[o], lit.text)
		}
		and = append(and, spaceCond{name: name, op: o, lit: lit})
		i = skipSpace(s, i)
		switch {
		case i >= to:
			sl.cond = append(sl.cond, and)
			return sl, nil
		case strings.HasPrefix(s[i:to], "&&"):
			i += 2
		case strings.HasPrefix(s[i:to], "||"):
			sl.cond = append(sl.cond, and)
			and = nil
			i += 2
		default:
			return slot{}, patternError(i, "expected &&, || or a comma")
		}
	}
}

// binding maps each slot to its first field index (or, for "...", to the
// first field it covers) and each field to its slot.
type binding []int // slot index per field

func (p *spacePattern) match(fields []string) (binding, bool) {
	b := make(binding, len(fields))
	steps := 0
	var align func(si, fi int) bool
	align = func(si, fi int) bool {
		steps++
		if steps > maxAlignSteps {
			return false
		}
		if si == len(p.slots) {
			return fi == len(fields) && p.checkAll(fields, b)
		}
		sl := &p.slots[si]
		if sl.kind == slotEllipsis {
			for k := fi; k <= len(fields); k++ {
				if k > fi {
					b[k-1] = si // the "..." now covers fields fi to k-1
				}
				if align(si+1, k) {
					return true
				}
				if steps > maxAlignSteps {
					return false
				}
			}
			return false
		}
		if fi >= len(fields) {
			return false
		}
		b[fi] = si
		if sl.local && sl.cond != nil && !p.check(sl, fields, b, fi) {
			return false
		}
		return align(si+1, fi+1)
	}
	if !align(0, 0) {
		return nil, false
	}
	return b, true
}

// checkAll evaluates the conditions that name other slots, once every slot
// has its field.
func (p *spacePattern) checkAll(fields []string, b binding) bool {
	if len(fields) == 0 {
		return true
	}
	pos := p.positions(b, len(fields))
	for si := range p.slots {
		sl := &p.slots[si]
		if sl.local || sl.cond == nil {
			continue
		}
		if !p.check(sl, fields, b, pos[si]) {
			return false
		}
	}
	return true
}

// positions returns the field index of every field slot under b.
func (p *spacePattern) positions(b binding, n int) []int {
	pos := make([]int, len(p.slots))
	for i := range pos {
		pos[i] = -1
	}
	for fi := 0; fi < n; fi++ {
		if p.slots[b[fi]].kind == slotField {
			pos[b[fi]] = fi
		}
	}
	return pos
}

func (p *spacePattern) check(sl *slot, fields []string, b binding, self int) bool {
	var pos []int
	for _, and := range sl.cond {
		ok := true
		for ci := range and {
			c := &and[ci]
			fi := self
			if c.name != sl.name {
				if pos == nil {
					pos = p.positions(b, len(fields))
				}
				fi = pos[c.slot]
			}
			if fi < 0 || !compare(stringScalar(fields[fi]), c.op, &c.lit) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// extracted builds TestMetricFilter's extractedValues for a match.
func (p *spacePattern) extracted(fields []string, b binding) map[string]string {
	out := make(map[string]string, len(fields))
	for fi, f := range fields {
		sl := &p.slots[b[fi]]
		if sl.kind == slotField && sl.name != "" {
			out["$"+sl.name] = f
		} else {
			out["$"+strconv.Itoa(fi+1)] = f
		}
	}
	return out
}

// field returns the value a `$name` or `$N` reference takes in a match.
func (p *spacePattern) field(ref string, fields []string, b binding) (string, bool) {
	if n, err := strconv.Atoi(ref); err == nil {
		if n < 1 || n > len(fields) {
			return "", false
		}
		return fields[n-1], true
	}
	si, ok := p.names[ref]
	if !ok {
		return "", false
	}
	for fi := range fields {
		if b[fi] == si {
			return fields[fi], true
		}
	}
	return "", false
}
