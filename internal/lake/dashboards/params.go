package dashboards

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/lake/queries"
)

// A widget's statement holds one `?` per element of its QueryParameters,
// in order: bare (`FROM ?`, `date_trunc(?, eventTime)`) or quoted as the
// model asks when compared with eventTime (`eventTime > '?'`). A `?` inside
// another string literal, a quoted identifier or a comment is text.

// placeholder is one `?` of a statement: its byte range and whether it was
// written quoted ('?').
type placeholder struct {
	start, end int
	quoted     bool
}

// placeholders finds the `?` placeholders of statement.
func placeholders(statement string) []placeholder {
	var out []placeholder
	s := statement
	for i := 0; i < len(s); {
		switch {
		case s[i] == '\'':
			j := i + 1
			for j < len(s) {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(s) {
				return out // an open literal: the dialect reports it
			}
			if s[i+1:j] == "?" {
				out = append(out, placeholder{start: i, end: j + 1, quoted: true})
			}
			i = j + 1
		case s[i] == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return out
			}
			i += j + 2
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return out
			}
			i += j + 1
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return out
			}
			i += j + 4
		case s[i] == '?':
			out = append(out, placeholder{start: i, end: i + 1})
			i++
		default:
			i++
		}
	}
	return out
}

// Arg is what fills one placeholder: Raw text goes in as written (a
// store id, or a FROM expression over several stores); anything else
// becomes a SQL string literal.
type Arg struct {
	Text string
	Raw  bool
}

// Fill replaces the placeholders of statement by args, in order; it fails
// when their numbers differ.
func Fill(statement string, args []Arg) (string, error) {
	ph := placeholders(statement)
	if len(ph) != len(args) {
		return "", fmt.Errorf("%w: the statement has %d ? placeholders but %d query parameters are given; give one for each ?", queries.ErrInvalidQuery, len(ph), len(args))
	}
	var b strings.Builder
	last := 0
	for i, p := range ph {
		b.WriteString(statement[last:p.start])
		if args[i].Raw && !p.quoted {
			b.WriteString(args[i].Text)
		} else {
			b.WriteString("'" + strings.ReplaceAll(args[i].Text, "'", "''") + "'")
		}
		last = p.end
	}
	b.WriteString(statement[last:])
	return b.String(), nil
}

// customParams and managedParams are the parameters a widget may name.
var (
	customParams  = []string{ParamStartTime, ParamEndTime, ParamPeriod}
	managedParams = []string{ParamStartTime, ParamEndTime, ParamPeriod, ParamStore}
)

// checkWidget checks a widget's parameters against its statement's
// placeholders (queries.ErrInvalidQuery).
func checkWidget(statement string, params []string, managed bool) error {
	allowed := customParams
	if managed {
		allowed = managedParams
	}
	if len(params) > 10 {
		return fmt.Errorf("%w: a widget has at most 10 query parameters, not %d", queries.ErrInvalidQuery, len(params))
	}
	for _, p := range params {
		if !slices.Contains(allowed, p) {
			return fmt.Errorf("%w: the query parameter %q is not one of %s", queries.ErrInvalidQuery, p, strings.Join(allowed, ", "))
		}
	}
	if n := len(placeholders(statement)); n != len(params) {
		return fmt.Errorf("%w: the statement has %d ? placeholders but %d query parameters; name one of %s for each ?", queries.ErrInvalidQuery, n, len(params), strings.Join(allowed, ", "))
	}
	return nil
}

// Values are the values of a refresh's parameters.
type Values struct {
	Start, End time.Time
	Period     string
	// Store is what fills FROM ? in a managed widget: a store id, or a
	// union of several stores.
	Store string
}

// arg returns the value of the parameter p.
func (v Values) arg(p string) Arg {
	switch p {
	case ParamStartTime:
		return Arg{Text: v.Start.UTC().Format(sqlTime)}
	case ParamEndTime:
		return Arg{Text: v.End.UTC().Format(sqlTime)}
	case ParamPeriod:
		return Arg{Text: v.Period}
	case ParamStore:
		return Arg{Text: v.Store, Raw: true}
	}
	return Arg{Text: p}
}

// args returns the arguments of a widget's parameters.
func (v Values) args(params []string) []Arg {
	out := make([]Arg, len(params))
	for i, p := range params {
		out[i] = v.arg(p)
	}
	return out
}

// sqlTime is how times fill placeholders: the form Lake compares with
// eventTime.
const sqlTime = "2006-01-02 15:04:05"

// DefaultWindow is the time a refresh covers when no $StartTime$ is given:
// the 7 days before $EndTime$ (which is the refresh's time by default).
const DefaultWindow = 7 * 24 * time.Hour

// periods are the values of $Period$: date_trunc units.
var periods = []string{"minute", "hour", "day", "week", "month"}

var storeIDPattern = regexp.MustCompile(`^[a-zA-Z0-9._\-]{3,256}$`)

// parseTime reads a $StartTime$ or $EndTime$ value: RFC 3339
// (2024-11-12T16:00:00Z), a date-time without zone (UTC), a date, or epoch
// seconds.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && n < 1<<40 {
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}

// ResolveValues turns a refresh's QueryParameterValues into Values, with
// the defaults: $EndTime$ now, $StartTime$ DefaultWindow before it,
// $Period$ hour for a window of at most a day, else day. The store of a
// managed dashboard ($EventDataStoreId$, an id or an ARN) is left empty when
// not given: the caller decides.
func ResolveValues(in map[string]string, managed bool, now time.Time) (Values, error) {
	allowed := customParams
	if managed {
		allowed = managedParams
	}
	for k := range in {
		if !slices.Contains(allowed, k) {
			return Values{}, fmt.Errorf("%w: %q is not a query parameter of this dashboard; use %s", ErrInvalidParameter, k, strings.Join(allowed, ", "))
		}
	}
	v := Values{End: now.UTC()}
	if s, ok := in[ParamEndTime]; ok {
		t, ok := parseTime(s)
		if !ok {
			return Values{}, fmt.Errorf("%w: %s %q is not a time; give 2024-11-12T16:00:00Z, 2024-11-12 or epoch seconds", ErrInvalidParameter, ParamEndTime, s)
		}
		v.End = t
	}
	v.Start = v.End.Add(-DefaultWindow)
	if s, ok := in[ParamStartTime]; ok {
		t, ok := parseTime(s)
		if !ok {
			return Values{}, fmt.Errorf("%w: %s %q is not a time; give 2024-11-12T16:00:00Z, 2024-11-12 or epoch seconds", ErrInvalidParameter, ParamStartTime, s)
		}
		v.Start = t
	}
	if v.Start.After(v.End) {
		return Values{}, fmt.Errorf("%w: %s (%s) is after %s (%s)", ErrInvalidParameter, ParamStartTime, v.Start.Format(time.RFC3339), ParamEndTime, v.End.Format(time.RFC3339))
	}
	v.Period = "day"
	if v.End.Sub(v.Start) <= 24*time.Hour {
		v.Period = "hour"
	}
	if s, ok := in[ParamPeriod]; ok {
		p := strings.ToLower(s)
		if !slices.Contains(periods, p) {
			return Values{}, fmt.Errorf("%w: %s %q is not one of %s", ErrInvalidParameter, ParamPeriod, s, strings.Join(periods, ", "))
		}
		v.Period = p
	}
	if s, ok := in[ParamStore]; ok {
		id := s
		if i := strings.LastIndex(id, ":eventdatastore/"); i >= 0 && strings.HasPrefix(id, "arn:") {
			id = id[i+len(":eventdatastore/"):]
		}
		if !storeIDPattern.MatchString(id) {
			return Values{}, fmt.Errorf("%w: %s %q is not an event data store id or ARN", ErrInvalidParameter, ParamStore, s)
		}
		v.Store = id
	}
	return v, nil
}

// unionOf is the FROM expression of several stores: their events one
// after the other (an event two stores hold counts twice, decision 133).
func unionOf(ids []string) string {
	if len(ids) == 1 {
		return ids[0]
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "SELECT * FROM " + id
	}
	return "(" + strings.Join(parts, " UNION ALL ") + ")"
}
