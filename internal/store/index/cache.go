package index

import (
	"container/list"
	"sync"
)

// blockCache keeps decompressed blocks (record blocks and directory blocks)
// of segments, least recently used first out, up to a byte budget.
type blockCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	lru   *list.List // of *cacheEntry, most recent at the front
	items map[cacheKey]*list.Element
}

type cacheKey struct {
	file uint64
	kind byte // cacheRecord, cacheDir, …
	n    int
}

type cacheEntry struct {
	key cacheKey
	b   []byte
}

func newBlockCache(max int64) *blockCache {
	return &blockCache{max: max, lru: list.New(), items: map[cacheKey]*list.Element{}}
}

// get returns a cached block; callers must not modify it.
func (c *blockCache) get(k cacheKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cacheEntry).b, true
	}
	return nil, false
}

func (c *blockCache) put(k cacheKey, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok || heapSize(b) > c.max {
		return
	}
	c.items[k] = c.lru.PushFront(&cacheEntry{k, b})
	c.size += heapSize(b)
	for c.size > c.max {
		e := c.lru.Back()
		ce := e.Value.(*cacheEntry)
		c.lru.Remove(e)
		delete(c.items, ce.key)
		c.size -= heapSize(ce.b)
	}
}

// heapSize is about what b takes on the heap, which the budget counts:
// its capacity, and for more than 32 KiB (a record block is a little
// more) rounded up to the runtime's 8 KiB pages, a quarter more for a
// block of 32 KiB and a few records.
func heapSize(b []byte) int64 {
	n := int64(cap(b))
	if n > 32<<10 {
		n = (n + 8<<10 - 1) &^ (8<<10 - 1)
	}
	return n
}

// drop forgets every block of a segment file.
func (c *blockCache) drop(file uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil; {
		next := e.Next()
		if ce := e.Value.(*cacheEntry); ce.key.file == file {
			c.lru.Remove(e)
			delete(c.items, ce.key)
			c.size -= heapSize(ce.b)
		}
		e = next
	}
}
