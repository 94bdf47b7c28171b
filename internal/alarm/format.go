package alarm

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// formatDouble writes a number as CloudWatch's texts do (Java's
// Double.toString): "2.0", "0.5", "1.0E7", "1.0E-4".
func formatDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // "1E+07", "1.5E-04"
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// jsonDouble marshals as formatDouble writes ("1.0", not "1").
type jsonDouble float64

func (d jsonDouble) MarshalJSON() ([]byte, error) {
	f := float64(d)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return []byte(formatDouble(f)), nil
}

// FormatTime writes a time as CloudWatch's alarm JSON does:
// 2022-09-07T14:33:43.328+0000, in UTC.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000-0700")
}
