package insights

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// topValues is how many values of each attribute the detector keeps per
// minute, per day and per period (decision §63).
const topValues = 20

// kv is one attribute value and its count; JSON [value, count].
type kv struct {
	V string
	N float64
}

func (p kv) MarshalJSON() ([]byte, error) { return json.Marshal([]any{p.V, p.N}) }

func (p *kv) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != 2 {
		return fmt.Errorf("attribution entry: want [value, count], got %d elements", len(raw))
	}
	if err := json.Unmarshal(raw[0], &p.V); err != nil {
		return fmt.Errorf("attribution value: %w", err)
	}
	if err := json.Unmarshal(raw[1], &p.N); err != nil {
		return fmt.Errorf("attribution count: %w", err)
	}
	return nil
}

// topK counts values with the space-saving algorithm: at most topValues
// entries; a new value when it is full replaces the smallest entry and
// inherits its count. Counts are exact while there are at most topValues
// distinct values, and never under the true count otherwise.
type topK []kv

func (t *topK) add(v string, n float64) {
	for i := range *t {
		if (*t)[i].V == v {
			(*t)[i].N += n
			return
		}
	}
	if len(*t) < topValues {
		*t = append(*t, kv{v, n})
		return
	}
	low := 0
	for i := range *t {
		if (*t)[i].N < (*t)[low].N {
			low = i
		}
	}
	(*t)[low] = kv{v, (*t)[low].N + n}
}

func (t *topK) merge(o topK) {
	for _, e := range o {
		t.add(e.V, e.N)
	}
}

// top returns the n heaviest values, heaviest first, ties by value.
func (t topK) top(n int) []kv {
	out := slices.Clone(t)
	slices.SortFunc(out, func(a, b kv) int {
		switch {
		case a.N > b.N:
			return -1
		case a.N < b.N:
			return 1
		}
		return strings.Compare(a.V, b.V)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// attrs are the attribution counts of one period: userIdentity.arn,
// userAgent and errorCode ("null" for a call without error).
type attrs struct {
	U topK `json:"u,omitempty"`
	G topK `json:"g,omitempty"`
	E topK `json:"e,omitempty"`
}

func (a *attrs) add(arn, agent, code string, n float64) {
	if arn != "" {
		a.U.add(arn, n)
	}
	if agent != "" {
		a.G.add(agent, n)
	}
	a.E.add(code, n)
}

func (a *attrs) merge(o *attrs) {
	if o == nil {
		return
	}
	a.U.merge(o.U)
	a.G.merge(o.G)
	a.E.merge(o.E)
}

func (a *attrs) clone() attrs {
	return attrs{U: slices.Clone(a.U), G: slices.Clone(a.G), E: slices.Clone(a.E)}
}
