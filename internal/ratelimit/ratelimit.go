// Package ratelimit is a token bucket per key: the per-caller limits of
// the API (LookupEvents, ListInsightsData) and the per-channel event
// rate of PutAuditEvents.
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Limiter is a token bucket per key, refilled at rate tokens per second
// up to burst. It is safe for concurrent use.
type Limiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// MaxBuckets bounds a Limiter's memory. Beyond it, full buckets (which
// behave exactly like fresh ones) are dropped; if none is full, all are:
// that briefly hands every key a fresh burst, which is better than
// unbounded growth (a caller can invent keys, such as regions).
const MaxBuckets = 10000

// New returns a Limiter of rate tokens per second and a burst of burst
// tokens (at least 1).
func New(rate, burst float64) *Limiter {
	return &Limiter{rate: rate, burst: math.Max(1, burst), buckets: map[string]*bucket{}}
}

// Burst is the most tokens a bucket holds.
func (l *Limiter) Burst() float64 { return l.burst }

// Allow takes one token from key's bucket, reporting false when it is
// empty.
func (l *Limiter) Allow(key string, now time.Time) bool { return l.AllowN(key, 1, now) }

// AllowN takes n tokens from key's bucket, reporting false (and taking
// none) when it holds fewer.
func (l *Limiter) AllowN(key string, n int, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= MaxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

func (l *Limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= MaxBuckets {
		clear(l.buckets)
	}
}
