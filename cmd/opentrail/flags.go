package main

import (
	"fmt"
	"strconv"

	"github.com/opentrail/opentrail/internal/datadir"
)

// daysFlag is an optional number of days (--event-history-retention): nil
// until set, and only 0..datadir.MaxRetentionDays accepted.
type daysFlag struct{ v *int }

func (f *daysFlag) String() string {
	if f == nil || f.v == nil {
		return ""
	}
	return strconv.Itoa(*f.v)
}

func (f *daysFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number of days", s)
	}
	if err := datadir.CheckRetention(n); err != nil {
		return fmt.Errorf("%d is outside 0..%d days (0 keeps everything)", n, datadir.MaxRetentionDays)
	}
	f.v = &n
	return nil
}
