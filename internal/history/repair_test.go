package history_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/store/wal"
)

// After `fsck --repair` records lost WAL records as a gap, the store opens,
// history follows across the gap (also when it is the last thing in the
// log) and catches up, a follower reads every other record; nothing reuses
// a lost seq.
func TestOpenAfterWALRepair(t *testing.T) {
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	trails := func(o *store.Options) { o.Followers = []string{"trails"} }
	s := openStoreWith(t, dir, nil, trails)
	if _, err := s.Append(t.Context(), []event.Event{mkEvent(t, 1, nil)}, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Records 2 to 40 are in the WAL but not yet in the index (a crash).
	o := wal.DefaultOptions()
	o.SegmentSize = 2 << 10
	w, err := wal.Open(walDir, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 40; i++ {
		ev := mkEvent(t, i, nil)
		w.Write([]wal.Entry{{Account: ev.Account, Region: ev.Region, Raw: ev.Raw}})
		w.Sync()
	}
	w.Seal() // the newest segment is empty: record 40 ends a sealed one
	w.Close()
	// Damage record 10 and record 40 (the last record of the log).
	for _, seq := range []uint64{10, 40} {
		damageRecord(t, walDir, seq)
	}
	if _, err := store.Open(dir, store.DefaultOptions()); err == nil {
		t.Fatal("store opened on a damaged WAL")
	}
	res, err := wal.Repair(walDir, wal.RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Report.Gaps) != 2 {
		t.Fatalf("gaps after repair: %+v", res.Report.Gaps)
	}
	var want []string
	for i := 40; i >= 1; i-- {
		if i != 10 && i != 40 {
			want = append(want, mkEvent(t, i, nil).EventID)
		}
	}
	for round := range 2 { // the second open replays the trailing gap again
		s = openStoreWith(t, dir, nil, trails)
		if diff := cmp.Diff(want, lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50})); diff != "" {
			t.Fatalf("round %d lookup (-want +got):\n%s", round, diff)
		}
		f, err := s.Follow("trails", 0, store.FollowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var seqs []uint64
		for {
			ents, err := f.Read(100)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) == 0 {
				break
			}
			for _, e := range ents {
				seqs = append(seqs, e.Seq)
			}
		}
		if f.Position() != 40 {
			t.Fatalf("round %d: follower position %d after the trailing gap, want 40", round, f.Position())
		}
		if len(seqs) != 38 || seqs[8] != 9 || seqs[9] != 11 || seqs[37] != 39 {
			t.Fatalf("round %d follower read %v", round, seqs)
		}
		f.Close()
		s.Close()
	}
	// Reading back a range across the gap: the log no longer holds it
	// whole.
	s = openStoreWith(t, dir, nil, trails)
	if err := s.f.ReadRange(5, 15, func(store.Entry) error { return nil }); !errors.Is(err, store.ErrNotRetained) {
		t.Fatalf("ReadRange across the gap: %v, want ErrNotRetained", err)
	}
	if err := s.f.ReadRange(11, 39, func(store.Entry) error { return nil }); err != nil {
		t.Fatalf("ReadRange after the gap: %v", err)
	}
	s.Close()
	s = openStore(t, dir, nil)
	res2, err := s.Append(t.Context(), []event.Event{mkEvent(t, 41, nil)}, store.AppendOptions{})
	if err != nil || res2.LastSeq != 41 {
		t.Fatalf("append after repair: seq %d, %v; want 41", res2.LastSeq, err)
	}
}

// damageRecord flips a payload byte of record seq in the WAL in walDir.
func damageRecord(t *testing.T, walDir string, seq uint64) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(walDir, "*.wal"))
	for _, path := range segs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for off := 8; off+16 <= len(b); {
			n := int(b[off]) | int(b[off+1])<<8 | int(b[off+2])<<16
			s := uint64(b[off+8]) | uint64(b[off+9])<<8 | uint64(b[off+10])<<16
			if s == seq {
				b[off+16+n/2] ^= 0x20
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			off += 16 + n
		}
	}
	t.Fatalf("record %d not found", seq)
}
