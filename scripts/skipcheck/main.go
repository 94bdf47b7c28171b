// Command skipcheck reads the events of `go test -json` on standard input,
// prints them as the text go test prints, and fails the run when a test
// skipped for a reason the project does not accept.
//
// Usage:
//
//	go test -json ./... | go run ./scripts/skipcheck [-short] [-v]
//
// The rule (the one internal/testenv states): a skipped test is accepted
// only when one of the lines it logged starts with "optional tool missing:
// NAME:" (testenv.MissingTool), NAME being one of testenv.Tools, and the
// run is not in CI (CI=true), where every optional tool is installed but the
// privileges of testenv.MayLackInCI; or,
// with -short (the run used go test -short), when a logged line starts with
// "short mode: " (testenv.SkipShort). Any other skip is refused.
//
// Output: each package's output is printed when the package finishes, as go
// test prints it: the output of failed (and unfinished) tests, build
// errors, and the package's own lines ("ok", "FAIL", "?"). With -v every
// line is printed, as go test -v prints it. A summary follows: every skipped
// test with its reason, accepted or refused, and every failure.
//
// Exit status: 1 when a test, package or build failed, a skip was refused,
// or the input ended before every package finished; 2 on a usage error; 0
// otherwise. The caller keeps go test's own exit status as well (see
// scripts/test): skipcheck adds failures, it never clears one.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/testenv"
)

func main() {
	fs := flag.NewFlagSet("skipcheck", flag.ContinueOnError)
	var opt options
	fs.BoolVar(&opt.short, "short", false, "the run used go test -short: accept skips made by testenv.SkipShort")
	fs.BoolVar(&opt.verbose, "v", false, "print every line of output, as go test -v")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go test -json ./... | go run ./scripts/skipcheck [-short] [-v]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "skipcheck: unexpected argument %q; it reads go test -json events on standard input\n", fs.Arg(0))
		os.Exit(2)
	}
	opt.ci = testenv.InCI()
	out := bufio.NewWriter(os.Stdout)
	res, err := check(os.Stdin, out, opt)
	res.summarize(out)
	if err != nil {
		fmt.Fprintf(out, "skipcheck: read go test -json events: %v\n", err)
	}
	if ferr := out.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil || !res.ok() {
		os.Exit(1)
	}
}

// options say how to print and which skips to accept.
type options struct {
	short   bool // the run used -short: accept testenv.SkipShort's skips
	verbose bool // print every line, as go test -v
	ci      bool // CI=true: every optional tool is installed; accept no tool skip
}

// event is one line of go test -json: a test2json event, or (Go 1.24 and
// later) a build event, which has ImportPath instead of Package.
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

// skip is one skipped test and the verdict on it.
type skip struct {
	pkg, test string
	reason    string // the line of its output the verdict rests on
	accepted  bool
	refusal   string // why it is refused, when it is
}

// result is what a run did, beyond its printed output.
type result struct {
	skips      []skip
	failures   []string // failed tests, packages and builds
	unfinished []string // packages whose end never came
}

func (r *result) ok() bool {
	return len(r.failures) == 0 && len(r.unfinished) == 0 && !slices.ContainsFunc(r.skips, func(s skip) bool { return !s.accepted })
}

// pkgState is a package whose tests are running.
type pkgState struct {
	out     strings.Builder             // printed when the package ends
	running map[string]*strings.Builder // output of tests not yet ended
	order   []string                    // running tests, in the order they started
}

// check reads events from in and prints their output to w. It returns an
// error only when in cannot be read; lines that are not events are printed
// as they are.
func check(in io.Reader, w io.Writer, opt options) (*result, error) {
	res := &result{}
	pkgs := map[string]*pkgState{}
	var pkgOrder []string
	state := func(name string) *pkgState {
		p := pkgs[name]
		if p == nil {
			p = &pkgState{running: map[string]*strings.Builder{}}
			pkgs[name] = p
			pkgOrder = append(pkgOrder, name)
		}
		return p
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		switch {
		case e.Action == "build-output":
			io.WriteString(w, e.Output)
		case e.Action == "build-fail":
			res.failures = append(res.failures, "build "+e.ImportPath)
		case e.Package == "":
			// Not an event this tool knows; print any output it carries.
			io.WriteString(w, e.Output)
		case e.Test == "":
			p := state(e.Package)
			switch e.Action {
			case "output":
				if !opt.verbose {
					p.flushRunning() // tests that never ended (the binary exited) come before the verdict line
					if e.Output == "PASS\n" {
						continue // go test prints it only with -v
					}
				}
				p.out.WriteString(e.Output)
			case "pass", "fail", "skip": // skip: no test files
				p.flushRunning()
				io.WriteString(w, p.out.String())
				delete(pkgs, e.Package)
				pkgOrder = slices.DeleteFunc(pkgOrder, func(n string) bool { return n == e.Package })
				if e.Action == "fail" {
					res.failures = append(res.failures, "package "+e.Package)
				}
			}
		default:
			p := state(e.Package)
			if opt.verbose && e.Output != "" {
				p.out.WriteString(e.Output)
			}
			switch e.Action {
			case "run":
				p.start(e.Test)
			case "output":
				p.start(e.Test).WriteString(e.Output)
			case "fail":
				res.failures = append(res.failures, "test "+e.Package+" "+e.Test)
				p.end(e.Test, !opt.verbose)
			case "skip":
				res.skips = append(res.skips, judge(e.Package, e.Test, p.start(e.Test).String(), opt))
				p.end(e.Test, false)
			default: // pass, pause, cont, bench, attr...
				if e.Action == "pass" || e.Action == "bench" {
					p.end(e.Test, false)
				}
			}
		}
	}
	// Packages that never ended: their output is all there is.
	for _, name := range pkgOrder {
		p := pkgs[name]
		p.flushRunning()
		io.WriteString(w, p.out.String())
		res.unfinished = append(res.unfinished, name)
	}
	return res, sc.Err()
}

// start returns the output buffer of a test, starting it if needed.
func (p *pkgState) start(test string) *strings.Builder {
	b := p.running[test]
	if b == nil {
		b = &strings.Builder{}
		p.running[test] = b
		p.order = append(p.order, test)
	}
	return b
}

// end forgets a test that ended, keeping its output for printing if keep.
func (p *pkgState) end(test string, keep bool) {
	if b := p.running[test]; b != nil && keep {
		p.out.WriteString(withoutFraming(b.String()))
	}
	delete(p.running, test)
	p.order = slices.DeleteFunc(p.order, func(n string) bool { return n == test })
}

// flushRunning keeps the output of every test still running: when the
// package's own lines come, they have ended without saying so (a crash, an
// os.Exit, a timeout).
func (p *pkgState) flushRunning() {
	for _, t := range slices.Clone(p.order) {
		p.end(t, true)
	}
}

// framing matches the lines go test -v adds to say which test runs; go test
// without -v does not print them.
var framing = regexp.MustCompile(`^=== (RUN|PAUSE|CONT|NAME) `)

func withoutFraming(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !framing.MatchString(line) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// logLine matches a line a test logged (t.Log, t.Skip, ...): file:line: message.
var logLine = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`)

// judge decides whether a skip is accepted, from the output of the test.
func judge(pkg, test, output string, opt options) skip {
	s := skip{pkg: pkg, test: test, reason: "(the test logged no reason)"}
	var msgs []string
	for line := range strings.Lines(output) {
		if m := logLine.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil {
			msgs = append(msgs, m[1])
		}
	}
	if len(msgs) > 0 {
		s.reason = msgs[len(msgs)-1]
	}
	for _, m := range msgs {
		if rest, ok := strings.CutPrefix(m, testenv.MissingToolPrefix); ok {
			s.reason = m
			tool, _, _ := strings.Cut(rest, ":")
			switch {
			case !slices.Contains(testenv.Tools, testenv.Tool(tool)):
				s.refusal = fmt.Sprintf("%q is not an optional tool (those are %v)", tool, testenv.Tools)
			case opt.ci && !slices.Contains(testenv.MayLackInCI, testenv.Tool(tool)):
				s.refusal = "CI=true, where every optional tool is installed"
			default:
				s.accepted = true
			}
			return s
		}
		if strings.HasPrefix(m, testenv.ShortPrefix) {
			s.reason = m
			if opt.short {
				s.accepted = true
			} else {
				s.refusal = "a skip for -short in a run without -short (tell skipcheck with -short)"
			}
			return s
		}
	}
	s.refusal = "a test may skip only for a missing optional tool (testenv.MissingTool) or, under -short, through testenv.SkipShort"
	return s
}

// summarize prints the skips and failures of the run, and its verdict.
func (r *result) summarize(w io.Writer) {
	fmt.Fprintln(w, "== skipcheck")
	if len(r.skips) == 0 {
		fmt.Fprintln(w, "no test skipped")
	} else {
		fmt.Fprintf(w, "%d skipped tests:\n", len(r.skips))
		for _, s := range r.skips {
			if s.accepted {
				fmt.Fprintf(w, "  accepted  %s %s: %s\n", s.pkg, s.test, s.reason)
			} else {
				fmt.Fprintf(w, "  REFUSED   %s %s: %s\n            refused: %s\n", s.pkg, s.test, s.reason, s.refusal)
			}
		}
	}
	for _, f := range r.failures {
		fmt.Fprintf(w, "FAILED %s\n", f)
	}
	for _, p := range r.unfinished {
		fmt.Fprintf(w, "UNFINISHED package %s: the go test -json events ended before its result\n", p)
	}
	refused := 0
	for _, s := range r.skips {
		if !s.accepted {
			refused++
		}
	}
	if r.ok() {
		fmt.Fprintln(w, "skipcheck: ok")
	} else {
		fmt.Fprintf(w, "skipcheck: FAIL (%d failed, %d skips refused, %d packages unfinished)\n", len(r.failures), refused, len(r.unfinished))
	}
}
