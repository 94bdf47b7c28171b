package store

import "testing"

// While ReadRange reads, the log keeps the records from its start on,
// whatever the followers released; afterwards it no longer does.
func TestReadRangeHoldsTheLog(t *testing.T) {
	o := DefaultOptions()
	o.Followers = []string{"f"}
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := s.Follow("f", 0, FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fill(t, s, 10)
	f.Release(10)
	if before, ok := s.holdBefore(); !ok || before != 11 {
		t.Fatalf("holdBefore = %d, %v before reading; want 11", before, ok)
	}
	n := 0
	err = s.ReadRange(3, 8, func(Entry) error {
		n++
		if before, ok := s.holdBefore(); !ok || before != 3 {
			t.Errorf("holdBefore = %d, %v while reading from 3", before, ok)
		}
		return nil
	})
	if err != nil || n != 6 {
		t.Fatalf("ReadRange read %d entries, %v", n, err)
	}
	if before, _ := s.holdBefore(); before != 11 {
		t.Fatalf("holdBefore = %d after reading; want 11", before)
	}
}
