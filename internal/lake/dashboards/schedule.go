package dashboards

import (
	"strconv"
	"time"
)

// Next returns the first slot of s strictly after t (UTC). A schedule in
// DAYS runs once a day at TimeOfDay; one in HOURS every Value hours of the
// UTC day starting at 00:MM, MM being TimeOfDay's minutes ("for hourly only
// refer to minutes", the model).
func (s Schedule) Next(t time.Time) time.Time {
	t = t.UTC()
	hh, mm := 0, 0
	if len(s.TimeOfDay) == 5 {
		hh, _ = strconv.Atoi(s.TimeOfDay[:2])
		mm, _ = strconv.Atoi(s.TimeOfDay[3:])
	}
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if s.Unit == Days {
		slot := day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
		if !slot.After(t) {
			slot = slot.AddDate(0, 0, 1)
		}
		return slot
	}
	step := time.Duration(max(s.Value, 1)) * time.Hour
	for slot := day.Add(time.Duration(mm) * time.Minute); ; slot = slot.Add(step) {
		if slot.After(t) {
			return slot
		}
	}
}
