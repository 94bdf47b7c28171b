package daemon

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
)

// goMemoryLimit is the soft limit on the Go runtime's memory that a
// serving or importing process gets unless its operator sets GOMEMLIMIT
// (decisions 95, 97 and 109). Without it the heap grows to twice what is
// live before the collector runs (GOGC=100): ingesting into a Lake store,
// 350 MiB live made 825 MiB of heap. With it the collector runs earlier once the heap nears
// the limit; below it nothing changes. A server ingesting into a store
// keeps its Go memory at the limit, so the limit is its share of the
// peak RSS. 448 MiB leaves the server's heap the headroom that 512 MiB
// left it in the benchmark that chose 512, whose harness then held 68
// MiB more of its own. The server's DuckDB instances are outside it
// (they have their own limits).
const goMemoryLimit = 448 << 20

// LimitGoMemory sets goMemoryLimit unless GOMEMLIMIT is set or the process
// has already set a limit of its own. [Daemon.Run], [Import] and
// [ImportLake] call it; a program that appends to the event log of an
// [Offline] data directory as the server does (a benchmark) calls it too.
func LimitGoMemory(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	debug.SetMemoryLimit(goMemoryLimit)
	log.Debug("soft limit on the Go runtime's memory set; GOMEMLIMIT overrides it", "bytes", goMemoryLimit)
}
