package importer

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxExamples is how many rejected records [Summary] keeps per reason, one
// per file; all of them are counted.
const MaxExamples = 5

// Summary reports what an import did.
type Summary struct {
	Files      int   // files read as CloudTrail JSON (possibly partly, see Failed)
	Bytes      int64 // bytes read from disk (compressed size for gzip)
	Events     int   // records read, rejected ones included
	Imported   int   // events stored
	Duplicates int   // events the store already had (or that repeat in the input)
	Rejected   int   // records refused, see Rejections

	// Rejections groups rejected records by reason, most frequent first.
	Rejections []RejectReason
	// Skipped lists files found in a directory walk that hold no
	// CloudTrail JSON (README.md, LICENSE, digest files, ...).
	Skipped []SkippedFile
	// Failed lists files that could not be read, or were named on the
	// command line but hold no CloudTrail JSON. A file that failed midway
	// may have had some records imported.
	Failed []SkippedFile
	// NewAccounts lists the accounts the import created, sorted.
	NewAccounts []string
	// CredentialsPath and ServerURL are Options', for Print's hint.
	CredentialsPath string
	ServerURL       string

	Elapsed     time.Duration
	Interrupted bool // the context was cancelled before the end
}

// RejectReason counts the rejected records that share a reason.
type RejectReason struct {
	Reason   string      // e.g. `eventTime: missing; every CloudTrail record has an eventTime`
	Count    int         // all records rejected for it
	Files    int         // files holding them
	Examples []Rejection // the first one of each of the first MaxExamples files
}

// Rejection is one rejected record.
type Rejection struct {
	File   string
	Index  int    // position of the record in the file, from 0
	Line   int    // line the record starts on (or where a syntax error is)
	Reason string // the full reason, which may quote values of the record
}

// SkippedFile is a file that was not imported (or not completely).
type SkippedFile struct {
	Path   string
	Reason string
}

// Print writes a human summary: counts, rejections grouped by reason with
// a few examples each, skipped and failed files, and new accounts with a
// hint where their access keys are.
func (s Summary) Print(w io.Writer) {
	p := &printer{w: w}
	verb := "Imported"
	if s.Interrupted {
		verb = "Interrupted: imported"
	}
	p.printf("%s %s events from %s in %s (%s read).\n", verb, num(s.Imported), plural(s.Files, "file"),
		s.Elapsed.Round(time.Millisecond), sizeString(s.Bytes))
	p.printf("  %-11s %9s\n", "read", num(s.Events))
	p.printf("  %-11s %9s\n", "imported", num(s.Imported))
	p.printf("  %-11s %9s%s\n", "duplicates", num(s.Duplicates), when(s.Duplicates > 0, "  (already stored, or repeated in the input)"))
	p.printf("  %-11s %9s\n", "rejected", num(s.Rejected))
	if s.Events > 0 && s.Elapsed > 0 {
		p.printf("  %-11s %9s events/s\n", "rate", num(int(float64(s.Events)/s.Elapsed.Seconds())))
	}

	if len(s.Rejections) > 0 {
		p.printf("\nRejected records, by reason:\n")
		width := len(num(s.Rejections[0].Count))
		for _, r := range s.Rejections {
			p.printf("  %*s  %s\n", width, num(r.Count), r.Reason)
			for _, ex := range r.Examples {
				p.printf("  %*s    %s:%d (record %d)", width, "", ex.File, ex.Line, ex.Index+1)
				if ex.Reason != r.Reason {
					p.printf(": %s", ex.Reason)
				}
				p.printf("\n")
			}
			if more := r.Count - len(r.Examples); more > 0 {
				p.printf("  %*s    and %s more", width, "", num(more))
				if r.Files > 1 {
					p.printf(", in %s in all", plural(r.Files, "file"))
				}
				p.printf("\n")
			}
		}
	}
	if len(s.Skipped) > 0 {
		p.printf("\nSkipped %s:\n", plural(len(s.Skipped), "file"))
		for _, f := range s.Skipped {
			p.printf("  %s: %s\n", f.Path, f.Reason)
		}
	}
	if len(s.Failed) > 0 {
		p.printf("\nFailed %s:\n", plural(len(s.Failed), "file"))
		for _, f := range s.Failed {
			p.printf("  %s: %s\n", f.Path, f.Reason)
		}
	}
	if len(s.NewAccounts) > 0 {
		p.printf("\nNew %s: %s\n", pluralWord(len(s.NewAccounts), "account"), strings.Join(s.NewAccounts, ", "))
		creds, env := "the credentials file", ""
		if s.CredentialsPath != "" {
			creds, env = s.CredentialsPath, "AWS_SHARED_CREDENTIALS_FILE="+shellQuote(s.CredentialsPath)+" "
		}
		if len(s.NewAccounts) == 1 {
			p.printf("  Its access key is in %s, in a profile named after the account id.\n", creds)
		} else {
			p.printf("  Their access keys are in %s, one profile per account, named after the account id.\n", creds)
		}
		url := cmp.Or(s.ServerURL, "http://HOST:PORT")
		p.printf("  With 'opentrail serve' running on this data directory, list an account's events\n")
		p.printf("  (with the server's address, by default %s; --region for a Region other than the profile's):\n", url)
		p.printf("    %saws --endpoint-url %s --profile %s cloudtrail lookup-events\n", env, url, s.NewAccounts[0])
	}
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@%=", r)
	}
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !safe(r) }) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func when(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

func plural(n int, word string) string { return num(n) + " " + pluralWord(n, word) }

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// num formats n with thousands separators: 1234567 -> "1,234,567".
func num[T int | int64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// sizeString formats a byte count: "512 B", "12.3 MB".
func sizeString(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// rejections collects rejected records concurrently.
type rejections struct {
	mu       sync.Mutex
	total    int
	byReason map[string]*reasonAcc
}

type reasonAcc struct {
	count    int
	files    map[int]bool // file orders seen
	examples []example    // one per file, sorted, at most MaxExamples
}

type example struct {
	order int // file order
	Rejection
}

func (e example) less(o example) bool {
	if e.order != o.order {
		return e.order < o.order
	}
	return e.Index < o.Index
}

// add records a rejection; group is the reason with record-specific values
// blanked out.
func (rs *rejections) add(order int, r Rejection) {
	group := reasonGroup(r.Reason)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.total++
	if rs.byReason == nil {
		rs.byReason = map[string]*reasonAcc{}
	}
	acc := rs.byReason[group]
	if acc == nil {
		acc = &reasonAcc{files: map[int]bool{}}
		rs.byReason[group] = acc
	}
	acc.count++
	ex := example{order: order, Rejection: r}
	if acc.files[order] {
		// Keep the file's first rejection: parsers may report out of order.
		for i, e := range acc.examples {
			if e.order == order && ex.less(e) {
				acc.examples[i] = ex
			}
		}
		return
	}
	acc.files[order] = true
	i, _ := slices.BinarySearchFunc(acc.examples, ex, func(a, b example) int {
		switch {
		case a.less(b):
			return -1
		case b.less(a):
			return 1
		}
		return 0
	})
	if i < MaxExamples {
		acc.examples = slices.Insert(acc.examples, i, ex)
		if len(acc.examples) > MaxExamples {
			acc.examples = acc.examples[:MaxExamples]
		}
	}
}

// list returns the reasons, most frequent first.
func (rs *rejections) list() []RejectReason {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]RejectReason, 0, len(rs.byReason))
	for reason, acc := range rs.byReason {
		rr := RejectReason{Reason: reason, Count: acc.count, Files: len(acc.files)}
		for _, ex := range acc.examples {
			rr.Examples = append(rr.Examples, ex.Rejection)
		}
		out = append(out, rr)
	}
	slices.SortFunc(out, func(a, b RejectReason) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Reason, b.Reason))
	})
	return out
}

// reasonGroup blanks out quoted values ("...") so that reasons differing
// only in the offending value group together.
func reasonGroup(reason string) string {
	if !strings.Contains(reason, `"`) {
		return reason
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(reason, '"')
		if i < 0 {
			b.WriteString(reason)
			return b.String()
		}
		j := i + 1
		for j < len(reason) && reason[j] != '"' {
			if reason[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(reason) {
			b.WriteString(reason)
			return b.String()
		}
		b.WriteString(reason[:i])
		b.WriteString(`"…"`)
		reason = reason[j+1:]
	}
}
