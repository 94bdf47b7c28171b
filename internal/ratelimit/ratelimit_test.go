package ratelimit

import (
	"strings"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New(2, 2)
	now := time.Unix(1000, 0)
	for i, want := range []bool{true, true, false} {
		if got := l.Allow("k", now); got != want {
			t.Errorf("call %d: allow = %v", i, got)
		}
	}
	if !l.Allow("other", now) {
		t.Error("separate key was throttled")
	}
	now = now.Add(500 * time.Millisecond)
	if !l.Allow("k", now) || l.Allow("k", now) {
		t.Error("half a second at 2/s should refill exactly one token")
	}
	// Pruning keeps the map bounded and forgets only full buckets.
	for i := range MaxBuckets + 10 {
		l.Allow(strings.Repeat("x", i%50)+string(rune('a'+i%26))+time.Duration(i).String(), now.Add(time.Hour))
	}
	if len(l.buckets) > MaxBuckets {
		t.Errorf("%d buckets, want at most %d", len(l.buckets), MaxBuckets)
	}
}

func TestAllowN(t *testing.T) {
	l := New(100, 150)
	now := time.Unix(1000, 0)
	if !l.AllowN("c", 100, now) || l.AllowN("c", 100, now) {
		t.Error("a burst of 150 allows 100, then not 100 more")
	}
	if !l.AllowN("c", 50, now) {
		t.Error("the 50 left were not taken")
	}
	if l.AllowN("c", 1, now) {
		t.Error("an empty bucket gave a token")
	}
	if !l.AllowN("c", 100, now.Add(time.Second)) {
		t.Error("a second at 100/s should refill 100")
	}
	if l.AllowN("d", 151, now) {
		t.Error("more than the burst was allowed")
	}
}
