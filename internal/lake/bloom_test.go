package lake

import (
	"fmt"
	"testing"
)

func TestBloom(t *testing.T) {
	b := newBloom(10000)
	for i := range 10000 {
		b.add(fmt.Sprintf("id-%d", i))
	}
	back, err := unmarshalBloom(b.marshal())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		if !back.mayContain(fmt.Sprintf("id-%d", i)) {
			t.Fatalf("id-%d: a member reads as absent", i)
		}
	}
	fp := 0
	for i := range 10000 {
		if back.mayContain(fmt.Sprintf("other-%d", i)) {
			fp++
		}
	}
	if fp > 350 { // 8 bits a key, 6 hashes: about 2.2%
		t.Fatalf("%d false positives in 10000", fp)
	}
	p := b.marshal()
	for _, bad := range [][]byte{nil, p[:10], append([]byte("XXXXXXXX"), p[8:]...), func() []byte {
		q := append([]byte(nil), p...)
		q[20] ^= 1
		return q
	}()} {
		if _, err := unmarshalBloom(bad); err == nil {
			t.Errorf("damaged filter of %d bytes accepted", len(bad))
		}
	}
}

func FuzzUnmarshalBloom(f *testing.F) {
	f.Add(newBloom(10).marshal())
	f.Add([]byte("OTBLOOM1"))
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := unmarshalBloom(p)
		if err == nil {
			b.mayContain("x")
		}
	})
}
