package daemon

import (
	"log/slog"
	"math"
	"runtime/debug"
	"testing"
)

func TestLimitGoMemory(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name  string
		env   string
		limit int64 // the process's limit before
		want  int64
	}{
		{name: "no limit set", limit: math.MaxInt64, want: goMemoryLimit},
		{name: "GOMEMLIMIT set", env: "1GiB", limit: math.MaxInt64, want: math.MaxInt64},
		{name: "the process set its own", limit: 100 << 20, want: 100 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tt.env)
			debug.SetMemoryLimit(tt.limit)
			LimitGoMemory(log)
			if got := debug.SetMemoryLimit(-1); got != tt.want {
				t.Errorf("memory limit %d, want %d", got, tt.want)
			}
		})
	}
}
