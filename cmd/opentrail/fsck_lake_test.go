package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/sdktest"
)

// lakeManifest is the part of a store's MANIFEST.json the test reads.
type lakeManifest struct {
	Files []struct {
		Name             string
		Rows             int
		MinSeq, MaxSeq   uint64
		MinTime, MaxTime time.Time
	}
}

// fsck --repair on each kind of damage to an event data store that makes
// serve refuse or fsck complain: it says what it did and what was lost,
// fsck then finds nothing, serve starts, and the store answers with every
// event but those of the file lost. A missing MANIFEST it refuses to
// guess about, changing nothing.
func TestFsckRepairsLake(t *testing.T) {
	pristine := t.TempDir()
	key := trailAccountKey(t, pristine)
	addr := freeAddr(t)
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgFile, []byte(`{"lake":{"flushInterval":"100ms"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--account-id", trailAccount, "--config", cfgFile}
	client := func(addr string) *cloudtrail.Client {
		return cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
			Credentials:      credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
			RetryMaxAttempts: 1, HTTPClient: sdktest.HTTPClient(http.DefaultTransport)})
	}
	srv := startServer(t, pristine, addr, args...)
	eds, err := client(addr).CreateEventDataStore(t.Context(), &cloudtrail.CreateEventDataStoreInput{Name: aws.String("repair")})
	if err != nil {
		t.Fatal(err)
	}
	srv.stop(t)
	arn := aws.ToString(eds.EventDataStoreArn)
	id := arn[len(arn)-36:]
	// Two phases of calls, each ended by a clean stop (which writes the
	// Lake's last batch) and a second apart (eventTime has whole
	// seconds), so each file holds the calls of one phase.
	var phases [2][]string
	var windows [2][2]time.Time
	for p := range phases {
		time.Sleep(1100 * time.Millisecond)
		srv = startServer(t, pristine, addr, args...)
		windows[p][0] = time.Now().Truncate(time.Second)
		for range 10 {
			out, err := client(addr).LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
			if err != nil {
				t.Fatal(err)
			}
			rid, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
			phases[p] = append(phases[p], rid)
		}
		windows[p][1] = time.Now()
		srv.stop(t)
	}
	storeRel := filepath.Join("lake", trailAccount, id)
	b, err := os.ReadFile(filepath.Join(pristine, storeRel, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man lakeManifest
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	// The file to damage: one of the first phase's.
	victim := -1
	for i, f := range man.Files {
		if !f.MinTime.Before(windows[0][0]) && !f.MaxTime.After(windows[0][1]) {
			victim = i
			break
		}
	}
	if victim < 0 {
		t.Fatalf("no file holds only the first phase's calls (%v): %s", windows[0], b)
	}
	lost := man.Files[victim]
	file := filepath.Join(pristine, storeRel, lost.Name)
	const otherID = "0b3f0000-0000-4000-8000-00000000abcd"
	lostLine := fmt.Sprintf("REPAIRED: lake: event data store %s: %s (", id, lost.Name)
	lostWhat := fmt.Sprintf("its %d events are lost from the store (log sequence %d to %d, eventtime %s to %s)",
		lost.Rows, lost.MinSeq, lost.MaxSeq, lost.MinTime.UTC().Format(time.RFC3339), lost.MaxTime.UTC().Format(time.RFC3339))

	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		refuses bool     // serve refuses before the repair
		want    []string // in fsck --repair's output
		lost    bool     // the victim's events are lost
	}{
		{"missing file", func(t *testing.T, dir string) {
			if err := os.Remove(rebase(file, pristine, dir)); err != nil {
				t.Fatal(err)
			}
		}, true, []string{lostLine + "missing): unlisted from its MANIFEST", lostWhat}, true},
		{"wrong size", func(t *testing.T, dir string) {
			if err := os.Truncate(rebase(file, pristine, dir), 100); err != nil {
				t.Fatal(err)
			}
		}, true, []string{lostLine, "is 100 bytes, its MANIFEST says", "moved with its eventid filter to " + filepath.Join(dir0, "lake", "quarantine", id), lostWhat}, true},
		{"damaged bytes", func(t *testing.T, dir string) {
			p := rebase(file, pristine, dir)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x5a
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, false, []string{lostLine, "does not have the SHA-256 its MANIFEST records", "moved with its eventid filter to " + filepath.Join(dir0, "lake", "quarantine", id), lostWhat}, true},
		{"unknown store", func(t *testing.T, dir string) {
			if err := os.CopyFS(filepath.Join(dir, "lake", trailAccount, otherID), os.DirFS(filepath.Join(dir, storeRel))); err != nil {
				t.Fatal(err)
			}
		}, true, []string{"REPAIRED: lake: event data store " + otherID + ": " + filepath.Join(dir0, "lake", trailAccount, otherID), "the catalogue (trails/eventdatastores.json) does not know",
			"moved to " + filepath.Join(dir0, "lake", "quarantine", trailAccount, otherID)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, pristine, dir)
			tt.damage(t, dir)
			before := snapshot(t, dir)
			out, code := runBin(t, "fsck", "--data-dir", dir)
			if code != 1 || !strings.Contains(out, "PROBLEM: ") {
				t.Fatalf("fsck of the damage: exit %d\n%s", code, out)
			}
			if !mapsEqual(before, snapshot(t, dir)) {
				t.Fatal("fsck without --repair changed the data directory")
			}
			if tt.refuses { // (a damaged hash is for the server's scrub: it starts)
				if out, code := runBin(t, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0"); code == 0 || !strings.Contains(out, "fsck --repair") {
					t.Fatalf("serve on the damage: exit %d, want a refusal that names fsck --repair\n%s", code, out)
				}
			}
			out, code = runBin(t, "fsck", "--data-dir", dir, "--repair")
			if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
				t.Fatalf("fsck --repair: exit %d\n%s", code, out)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, dir0, dir); !strings.Contains(out, w) {
					t.Errorf("fsck --repair does not say %q:\n%s", w, out)
				}
			}
			if out, code := runBin(t, "fsck", "--data-dir", dir); code != 0 || strings.Contains(out, "PROBLEM") {
				t.Fatalf("fsck after the repair: exit %d\n%s", code, out)
			}
			addr := freeAddr(t)
			srv := startServer(t, dir, addr, args...)
			defer srv.stop(t)
			have := map[string]bool{}
			for _, r := range lakeQuery(t, client(addr), "SELECT requestid FROM "+id+" WHERE eventname = 'LookupEvents'") {
				have[r[0]["requestid"]] = true
			}
			var missing []string
			for _, rid := range slices.Concat(phases[0], phases[1]) {
				if !have[rid] {
					missing = append(missing, rid)
				}
			}
			want := 0
			if tt.lost {
				want = lost.Rows
			}
			if len(missing) != want {
				t.Fatalf("the store lacks %d of the %d calls, want %d (the lost file's): %v", len(missing), len(phases[0])+len(phases[1]), want, missing)
			}
			for _, rid := range missing {
				if !slices.Contains(phases[0], rid) {
					t.Errorf("call %s of the second phase is missing; only the first phase's file was damaged", rid)
				}
			}
		})
	}

	// What the repair refuses to guess about: it says so and what to do,
	// changes nothing in the Lake, and serve keeps refusing.
	for _, tc := range []struct {
		name, remove string // the file removed, under the data directory
		want, serve  string // in fsck --repair's refusal; in serve's
	}{
		// A missing MANIFEST over the store's files: nothing says which
		// of them made up the store.
		{"missing MANIFEST", filepath.Join(storeRel, "MANIFEST.json"),
			"restore the MANIFEST from a backup, or move the store's directory away", "MANIFEST.json is missing"},
		// A lost catalogue: every store would look unknown; none is
		// moved away.
		{"missing catalogue", filepath.Join("trails", "eventdatastores.json"),
			"eventdatastores.json is missing", "does not know"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, pristine, dir)
			if err := os.Remove(filepath.Join(dir, tc.remove)); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			out, code := runBin(t, "fsck", "--data-dir", dir, "--repair")
			if code != 1 || !strings.Contains(out, "NOT REPAIRED: lake: ") || !strings.Contains(out, tc.want) || !strings.Contains(out, "PROBLEM: ") {
				t.Fatalf("fsck --repair: exit %d, want a refusal with %q\n%s", code, tc.want, out)
			}
			after := snapshot(t, dir)
			for p, h := range before {
				if h2, ok := after[p]; strings.HasPrefix(p, "lake"+string(filepath.Separator)) && (!ok || h2 != h) {
					t.Errorf("the refused repair changed %s", p)
				}
			}
			if out, code := runBin(t, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0"); code == 0 || !strings.Contains(out, tc.serve) {
				t.Fatalf("serve after the refused repair: exit %d, want a refusal with %q\n%s", code, tc.serve, out)
			}
		})
	}
}

// dir0 stands for a subtest's data directory in expected output.
const dir0 = "\x00DIR"

// rebase moves path from under dir old to under dir new.
func rebase(path, old, new string) string {
	rel, err := filepath.Rel(old, path)
	if err != nil {
		panic(err)
	}
	return filepath.Join(new, rel)
}
