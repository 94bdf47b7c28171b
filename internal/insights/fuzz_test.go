package insights

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeState: a state file never makes decode panic, and what decodes
// encodes to bytes that decode to the same encoding.
func FuzzDecodeState(f *testing.F) {
	d := newDetector(shortOptions())
	feed(f, d, 0, 152, errorStorm(150, 160), always)
	for _, c := range errorStorm(150, 160)(152) {
		d.add(mkEvent(f, c))
	}
	seed, err := d.encode(7, []outboxRec{{Account: acct, Region: "us-east-1", EventID: "e", Record: []byte(`{"a":1}`)}}, 12)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"version":1,"checkpoint":3,"partitions":[],"outbox":[]}`))
	f.Add([]byte(`{"version":1,"partitions":[{"account":"1","region":"r","closed":5,"open":{"6":[{"s":0,"n":2,"a":{"u":[["x",2]]}}]},"series":[{"cat":"Management","type":"ApiCallRateInsight","source":"s","name":"n","hours":[[0,1,1]],"days":[{"d":0,"a":{}}],"anomaly":{"shared":"x","start":4,"threshold":5}}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		stateCheckpoint(bytes.NewReader(b)) // never panics
		o := shortOptions()
		d, ck, outbox, err := decode(b, o)
		if err != nil {
			return
		}
		e1, err := d.encode(ck, outbox, 0)
		if err != nil {
			t.Fatal(err)
		}
		d2, ck2, outbox2, err := decode(e1, o)
		if err != nil {
			t.Fatalf("re-decoding an encoding: %v\n%s", err, e1)
		}
		e2, err := d2.encode(ck2, outbox2, 0)
		if err != nil {
			t.Fatal(err)
		}
		if string(e1) != string(e2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", e1, e2)
		}
		// What the server reads before it opens the log.
		if got := stateCheckpoint(bytes.NewReader(e1)); got != ck2 {
			t.Fatalf("stateCheckpoint %d, decode %d:\n%s", got, ck2, e1)
		}
		// The decoded detector runs.
		d2.advance(t0.Add(365*24*time.Hour), true, always)
	})
}
