package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

func collectRange(s interface {
	ReadRange(from, to uint64, fn func(store.Entry) error) error
}, from, to uint64) ([]string, error) {
	var ids []string
	var seqs []uint64
	err := s.ReadRange(from, to, func(e store.Entry) error {
		ids = append(ids, e.Event.EventID)
		seqs = append(seqs, e.Seq)
		return nil
	})
	for i, s := range seqs {
		if s != from+uint64(i) {
			return ids, fmt.Errorf("entry %d has seq %d, want %d", i, s, from+uint64(i))
		}
	}
	return ids, err
}

func idRange(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("id-%06d", i))
	}
	return out
}

func TestReadRange(t *testing.T) {
	dir := t.TempDir()
	small := func(o *store.Options) { o.SegmentSize = 4 << 10; o.Followers = []string{"f"} }
	s := openStore(t, dir, small)
	f, err := s.Follow("f", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for i := 1; i <= 300; i++ {
		evs = append(evs, mkEvent(t, i, nil))
	}
	if _, err := s.Append(context.Background(), evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		from, to uint64
	}{
		{"one", 7, 7},
		{"across WAL segments", 10, 250},
		{"all", 1, 300},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []interface {
				ReadRange(from, to uint64, fn func(store.Entry) error) error
			}{s, f} {
				got, err := collectRange(r, c.from, c.to)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(idRange(int(c.from), int(c.to)), got); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
			}
		})
	}
	for _, c := range []struct {
		name     string
		from, to uint64
	}{
		{"from 0", 0, 5},
		{"from after to", 9, 8},
		{"past the head", 290, 301},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := collectRange(s, c.from, c.to); err == nil || errors.Is(err, store.ErrNotRetained) {
				t.Fatalf("err = %v, want a range error", err)
			}
		})
	}
	t.Run("fn error stops", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := s.ReadRange(1, 100, func(store.Entry) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 3 {
			t.Fatalf("err %v after %d entries", err, n)
		}
	})

	// Once the follower released them, closing deletes the WAL segments
	// before seq 200; the log no longer holds them.
	f.Release(200)
	f.Close()
	s.Close()
	s = openStore(t, dir, small)
	for _, from := range []uint64{1, 150} {
		if _, err := collectRange(s, from, 260); !errors.Is(err, store.ErrNotRetained) {
			t.Errorf("ReadRange(%d, 260) after truncation: %v, want ErrNotRetained", from, err)
		}
	}
	got, err := collectRange(s, 201, 260)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(idRange(201, 260), got); diff != "" {
		t.Fatalf("after truncation (-want +got):\n%s", diff)
	}
}
