package history

// OnPublish makes h call fn with each seq it publishes as applied
// (under its lock: fn must not call h).
func OnPublish(h *History, fn func(seq uint64)) { h.published = fn }
