package insights

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// The state file (docs/format/insights.md).

// stateVersion is written; version 1 (no last minute with calls, no
// drop anomalies) is read too.
const stateVersion = 2

type stateFile struct {
	Version    int    `json:"version"`
	Checkpoint uint64 `json:"checkpoint"`
	Metrics    int64  `json:"metrics"`
	// Data is the committed length of data.jsonl; nil in a state written
	// before the file existed (the file is then kept whole).
	Data       *int64      `json:"data,omitempty"`
	Partitions []partJSON  `json:"partitions"`
	Outbox     []outboxRec `json:"outbox"`
}

// outboxRec is a record decided but not yet read back from the log.
type outboxRec struct {
	Account string          `json:"account"`
	Region  string          `json:"region"`
	EventID string          `json:"eventId"`
	Record  json.RawMessage `json:"record"`
}

type partJSON struct {
	Account string                `json:"account"`
	Region  string                `json:"region"`
	Since   int64                 `json:"since"`
	Clock   int64                 `json:"clock"`
	Closed  int64                 `json:"closed"`
	Live    bool                  `json:"live,omitempty"`
	Open    map[string][]openJSON `json:"open"`
	Series  []seriesJSON          `json:"series"`
}

type openJSON struct {
	S int     `json:"s"`
	N float64 `json:"n"`
	A attrs   `json:"a"`
}

type seriesJSON struct {
	Cat     string     `json:"cat"`
	Type    string     `json:"type"`
	Source  string     `json:"source"`
	Name    string     `json:"name"`
	Error   string     `json:"error,omitempty"`
	Hours   []hourAgg  `json:"hours"`
	Days    []dayAttrs `json:"days"`
	Streak  *streak    `json:"streak,omitempty"`
	Anomaly *anomaly   `json:"anomaly,omitempty"`
	Last    int64      `json:"last,omitempty"`
	Gaps    []int64    `json:"gaps,omitempty"`
	Held    bool       `json:"held,omitempty"`
}

func (h hourAgg) MarshalJSON() ([]byte, error) { return json.Marshal([]any{h.H, h.S, h.Sq}) }

func (h *hourAgg) UnmarshalJSON(b []byte) error {
	var v []float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if len(v) != 3 {
		return fmt.Errorf("hour entry: want [hour, sum, sumSquares], got %d elements", len(v))
	}
	h.H, h.S, h.Sq = int64(v[0]), v[1], v[2]
	return nil
}

// encode writes the detector's state and the outbox, with no data.jsonl
// length.
func (d *detector) encode(checkpoint uint64, outbox []outboxRec, metrics int64) ([]byte, error) {
	return d.encodeState(checkpoint, outbox, metrics, nil)
}

// encodeState writes the detector's state, the outbox and the committed
// lengths of metrics.jsonl and data.jsonl.
func (d *detector) encodeState(checkpoint uint64, outbox []outboxRec, metrics int64, data *int64) ([]byte, error) {
	sf := stateFile{Version: stateVersion, Checkpoint: checkpoint, Metrics: metrics, Data: data, Outbox: outbox, Partitions: []partJSON{}}
	if sf.Outbox == nil {
		sf.Outbox = []outboxRec{}
	}
	for _, p := range d.parts {
		pj := partJSON{Account: p.Account, Region: p.Region, Since: p.Since, Clock: p.Clock, Closed: p.Closed, Live: p.Live,
			Open: map[string][]openJSON{}, Series: []seriesJSON{}}
		all := make([]*series, 0, len(p.series))
		for _, s := range p.series {
			all = append(all, s)
		}
		slices.SortFunc(all, func(a, b *series) int { return cmp.Compare(a.key(), b.key()) })
		index := make(map[*series]int, len(all))
		for i, s := range all {
			index[s] = i
			pj.Series = append(pj.Series, seriesJSON{Cat: s.Cat, Type: s.Type, Source: s.Source, Name: s.Name, Error: s.Error,
				Hours: s.Hours, Days: s.Days, Streak: s.Streak, Anomaly: s.Anomaly, Last: s.Last, Gaps: s.Gaps, Held: s.Held})
		}
		for m, mm := range p.open {
			var list []openJSON
			for s, a := range mm {
				list = append(list, openJSON{S: index[s], N: a.N, A: a.A})
			}
			slices.SortFunc(list, func(a, b openJSON) int { return cmp.Compare(a.S, b.S) })
			pj.Open[strconv.FormatInt(m, 10)] = list
		}
		sf.Partitions = append(sf.Partitions, pj)
	}
	slices.SortFunc(sf.Partitions, func(a, b partJSON) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region))
	})
	return json.Marshal(sf)
}

// decode reads a state file into a detector; it checks what the code
// relies on (indexes in range, one entry per partition and series).
func decode(b []byte, opts *Options) (*detector, uint64, []outboxRec, error) {
	d, sf, err := decodeFile(b, opts)
	if err != nil {
		return nil, 0, nil, err
	}
	return d, sf.Checkpoint, sf.Outbox, nil
}

// decodeFile is decode with the whole file's members.
func decodeFile(b []byte, opts *Options) (*detector, *stateFile, error) {
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, nil, fmt.Errorf("insights state: %w", err)
	}
	if sf.Version != stateVersion && sf.Version != 1 {
		return nil, nil, fmt.Errorf("insights state: version %d, want 1 or %d", sf.Version, stateVersion)
	}
	d := newDetector(opts)
	for i, pj := range sf.Partitions {
		k := partKey{pj.Account, pj.Region}
		if pj.Account == "" || pj.Region == "" || d.parts[k] != nil {
			return nil, nil, fmt.Errorf("insights state: partition %d: missing or repeated account and region", i)
		}
		p := newPartition(pj.Account, pj.Region, pj.Since)
		p.Clock, p.Closed, p.Live = pj.Clock, pj.Closed, pj.Live
		idx := make([]*series, len(pj.Series))
		for j, sj := range pj.Series {
			s := &series{Cat: sj.Cat, Type: sj.Type, Source: sj.Source, Name: sj.Name, Error: sj.Error,
				Hours: sj.Hours, Days: sj.Days, Streak: sj.Streak, Anomaly: sj.Anomaly, Last: sj.Last, Gaps: sj.Gaps, Held: sj.Held}
			if s.Type != CallRate && s.Type != ErrorRate {
				return nil, nil, fmt.Errorf("insights state: %s/%s series %d: type %q", p.Account, p.Region, j, s.Type)
			}
			if p.series[s.key()] != nil {
				return nil, nil, fmt.Errorf("insights state: %s/%s series %d repeats %s", p.Account, p.Region, j, s.key())
			}
			// A threshold below zero would keep an anomaly open through
			// quiet minutes forever.
			if st := s.Streak; st != nil && (len(st.N) == 0 || !(st.Threshold >= 0)) {
				return nil, nil, fmt.Errorf("insights state: %s/%s series %d: a streak needs minutes and a threshold of at least 0", p.Account, p.Region, j)
			}
			if a := s.Anomaly; a != nil && a.Drop && sf.Version == 1 {
				return nil, nil, fmt.Errorf("insights state: %s/%s series %d: a drop anomaly in a version 1 state", p.Account, p.Region, j)
			}
			if a := s.Anomaly; a != nil && (!(a.Threshold >= 0) || a.Normal < 0 || a.Last < a.Start) {
				return nil, nil, fmt.Errorf("insights state: %s/%s series %d: an anomaly needs a threshold of at least 0, normal minutes of at least 0 and its last minute after its start", p.Account, p.Region, j)
			}
			p.series[s.key()] = s
			idx[j] = s
			if s.Streak != nil || s.Anomaly != nil || s.Held {
				p.active[s] = struct{}{}
			}
			if s.Anomaly != nil {
				p.nOpen++
			}
		}
		for ms, list := range pj.Open {
			m, err := strconv.ParseInt(ms, 10, 64)
			if err != nil || m < p.Closed {
				return nil, nil, fmt.Errorf("insights state: %s/%s open minute %q is not a minute after closed %d", p.Account, p.Region, ms, p.Closed)
			}
			mm := map[*series]*minuteAgg{}
			for _, o := range list {
				if o.S < 0 || o.S >= len(idx) || mm[idx[o.S]] != nil {
					return nil, nil, fmt.Errorf("insights state: %s/%s open minute %d: series %d out of range or repeated", p.Account, p.Region, m, o.S)
				}
				mm[idx[o.S]] = &minuteAgg{N: o.N, A: o.A}
			}
			p.open[m] = mm
		}
		d.parts[k] = p
	}
	for i, r := range sf.Outbox {
		if r.EventID == "" || len(r.Record) == 0 {
			return nil, nil, fmt.Errorf("insights state: outbox entry %d: no eventId or record", i)
		}
	}
	if sf.Metrics < 0 {
		return nil, nil, fmt.Errorf("insights state: metrics length %d", sf.Metrics)
	}
	if sf.Data != nil && *sf.Data < 0 {
		return nil, nil, fmt.Errorf("insights state: data length %d", *sf.Data)
	}
	sf.Partitions = nil // the detector holds them now
	return d, &sf, nil
}
