package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/store/wal"
)

func runBin(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(opentrailBin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// withAccount gives the data directory dir an account, as every directory
// that holds events has (fsck reports events without accounts).
func withAccount(t *testing.T, dir string) {
	t.Helper()
	ids, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ids.CreateDefault("123456789012"); err != nil {
		t.Fatal(err)
	}
}

func TestFsck(t *testing.T) {
	dir := t.TempDir()
	withAccount(t, dir)
	walDir := filepath.Join(dir, "events", "wal")
	o := wal.DefaultOptions()
	o.SegmentSize = 4096 // several segments
	w, err := wal.Open(walDir, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		raw := fmt.Sprintf(`{"eventTime":"2026-01-01T00:00:%02dZ","eventID":"f%d","awsRegion":"us-east-1","recipientAccountId":"123456789012","eventSource":"s3.amazonaws.com","eventName":"GetObject"}`, i%60, i)
		if _, err := w.Write([]wal.Entry{{Account: "123456789012", Region: "us-east-1", Raw: []byte(raw)}}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()

	out, code := runBin(t, "fsck", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "WAL: 60 records, sequence 1 to 60") || !strings.Contains(out, "history: the next start reads back 60 WAL records") || !strings.Contains(out, "OK") {
		t.Fatalf("healthy store: exit %d\n%s", code, out)
	}

	// Damage a record in the first (sealed) segment.
	first := filepath.Join(walDir, fmt.Sprintf("%020d.wal", 1))
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	b[40] ^= 0xff
	os.WriteFile(first, b, 0o644)
	out, code = runBin(t, "fsck", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "PROBLEM: WAL segment "+first+" is damaged") {
		t.Fatalf("damaged store: exit %d\n%s", code, out)
	}

	// A usage mistake is exit status 2.
	if _, code := runBin(t, "fsck", "extra"); code != 2 {
		t.Fatalf("usage error exit %d", code)
	}
}

func TestFsckIndexSegments(t *testing.T) {
	dir := t.TempDir()
	withAccount(t, dir)
	off, err := daemon.OpenOffline(dir, daemon.OfflineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := off.Store
	var evs []event.Event
	for i := range 300 {
		raw := fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"2026-01-01T00:%02d:%02dZ","eventID":"seg-%d","awsRegion":"us-east-1","recipientAccountId":"123456789012","eventSource":"s3.amazonaws.com","eventName":"GetObject%d","eventCategory":"Management","readOnly":true}`, i/60, i%60, i, i%7)
		ev, err := event.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if _, err := st.Append(context.Background(), evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}
	out, code := runBin(t, "fsck", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "1 segments, 300 events") || !strings.Contains(out, "OK") {
		t.Fatalf("healthy store: exit %d\n%s", code, out)
	}
	ixDir := filepath.Join(dir, "events", "index")
	segs, _ := filepath.Glob(filepath.Join(ixDir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	// A leftover file is reported, not deleted: fsck changes nothing.
	stray := filepath.Join(ixDir, "00000000000000ff.seg")
	os.WriteFile(stray, []byte("partial"), 0o644)
	out, code = runBin(t, "fsck", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "PROBLEM: 00000000000000ff.seg is not listed in MANIFEST") {
		t.Fatalf("stray file: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(stray); err != nil {
		t.Fatalf("fsck removed the stray file: %v", err)
	}
	os.Remove(stray)
	// Damage inside the first record block.
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 0xff
	os.WriteFile(segs[0], b, 0o644)
	out, code = runBin(t, "fsck", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "PROBLEM: index segment "+segs[0]+" is corrupt") {
		t.Fatalf("damaged segment: exit %d\n%s", code, out)
	}
}

// Issue 8, 1.2: a missing index MANIFEST is reported by fsck and refused
// by serve without touching the segments; fsck --repair rebuilds it from
// them, and every event is back.
func TestFsckRepairsIndexManifest(t *testing.T) {
	dir := t.TempDir()
	withAccount(t, dir)
	off, err := daemon.OpenOffline(dir, daemon.OfflineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for i := range 300 {
		ev, err := event.Parse([]byte(fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"2026-01-01T00:%02d:%02dZ","eventID":"m-%d","awsRegion":"us-east-1","recipientAccountId":"123456789012","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventCategory":"Management"}`, i/60, i%60, i)))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if _, err := off.Store.Append(context.Background(), evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}
	ixDir := filepath.Join(dir, "events", "index")
	segs, _ := filepath.Glob(filepath.Join(ixDir, "*.seg"))
	if err := os.Remove(filepath.Join(ixDir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	out, code := runBin(t, "fsck", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "PROBLEM: ") || !strings.Contains(out, "fsck --repair") {
		t.Fatalf("missing MANIFEST: exit %d\n%s", code, out)
	}
	if out, code := runBin(t, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0"); code == 0 || !strings.Contains(out, "MANIFEST") {
		t.Fatalf("serve on a missing MANIFEST: exit %d\n%s", code, out)
	}
	if after, _ := filepath.Glob(filepath.Join(ixDir, "*.seg")); len(after) != len(segs) {
		t.Fatalf("segments %v after the refused start, were %v", after, segs)
	}
	out, code = runBin(t, "fsck", "--data-dir", dir, "--repair")
	if code != 0 || !strings.Contains(out, "REPAIRED: index MANIFEST rebuilt from 1 segments") || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("fsck --repair: exit %d\n%s", code, out)
	}
	off, err = daemon.OpenOffline(dir, daemon.OfflineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if err := off.History.WaitCaughtUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := off.History.Count(); err != nil || n != 300 {
		t.Fatalf("after the repair event history holds %d events, %v; want 300", n, err)
	}
}

// fsck checks trail delivery's state: a staged file the state lists but
// the spool lost is a problem; a healthy directory is OK.
func TestFsckTrails(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount)
	srv.cmd.Process.Signal(os.Interrupt)
	srv.cmd.Wait()
	out, code := runBin(t, "fsck", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "trails: 0 (0 logging); delivery: checkpoint") || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("healthy directory: exit %d\n%s", code, out)
	}
	state := filepath.Join(dir, "delivery", "state.json")
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"spool":null`, `"spool":[{"id":"Gone123","bucket":"b","key":"k"}]`, 1))
	b = []byte(strings.Replace(string(b), `"spool":[]`, `"spool":[{"id":"Gone123","bucket":"b","key":"k"}]`, 1))
	if err := os.WriteFile(state, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "delivery", "spool", "Stray1.json.gz"), []byte("x"), 0o644)
	out, code = runBin(t, "fsck", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "staged log file Gone123 for s3://b/k is missing") || !strings.Contains(out, "spool file Stray1.json.gz is not in the delivery state") {
		t.Fatalf("damaged delivery state: exit %d\n%s", code, out)
	}
}

// writeFsckWAL writes n valid events to the WAL of data directory dir.
func writeFsckWAL(t *testing.T, dir string, n int, segSize int64) string {
	t.Helper()
	withAccount(t, dir)
	walDir := filepath.Join(dir, "events", "wal")
	o := wal.DefaultOptions()
	o.SegmentSize = segSize
	w, err := wal.Open(walDir, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		raw := fmt.Sprintf(`{"eventTime":"2026-01-01T00:00:%02dZ","eventID":"f%d","awsRegion":"us-east-1","recipientAccountId":"123456789012","eventSource":"s3.amazonaws.com","eventName":"GetObject"}`, i%60, i)
		if _, err := w.Write([]wal.Entry{{Account: "123456789012", Region: "us-east-1", Raw: []byte(raw)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return walDir
}

// recordOffset finds where record seq starts in a healthy segment.
func recordOffset(t *testing.T, b []byte, seq uint64) int {
	t.Helper()
	for off := 8; off+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if binary.LittleEndian.Uint64(b[off+8:]) == seq {
			return off
		}
		off += 16 + n
	}
	t.Fatalf("record %d not found", seq)
	return 0
}

// Issue 8, 1.3: a flipped byte in the middle of the newest segment. fsck
// names the segment and offset and changes nothing; --repair keeps every
// other record, says what it dropped, and the store is healthy again.
func TestFsckRepairsWAL(t *testing.T) {
	dir := t.TempDir()
	walDir := writeFsckWAL(t, dir, 500, 1<<30)
	seg := filepath.Join(walDir, fmt.Sprintf("%020d.wal", 1))
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	off := recordOffset(t, b, 200)
	b[off+40] ^= 0x01
	os.WriteFile(seg, b, 0o644)

	out, code := runBin(t, "fsck", "--data-dir", dir)
	want := fmt.Sprintf("PROBLEM: WAL segment %s is damaged at offset %d: crc mismatch", seg, off)
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "records 200 to 200 are lost") || !strings.Contains(out, "fsck --repair") {
		t.Fatalf("damaged WAL: exit %d, want %q in\n%s", code, want, out)
	}
	if after, _ := os.ReadFile(seg); string(after) != string(b) {
		t.Fatal("fsck without --repair changed the segment")
	}

	out, code = runBin(t, "fsck", "--data-dir", dir, "--repair")
	wantRepair := fmt.Sprintf("REPAIRED: %s: dropped ", seg)
	if code != 0 || !strings.Contains(out, wantRepair) || !strings.Contains(out, fmt.Sprintf("from offset %d", off)) ||
		!strings.Contains(out, "records 200 to 200 are lost") || !strings.Contains(out, "the original is kept in "+filepath.Join(walDir, "quarantine")) ||
		!strings.Contains(out, "WAL: 499 records, sequence 1 to 500") || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("fsck --repair: exit %d\n%s", code, out)
	}
	out, code = runBin(t, "fsck", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "WAL: records 200 to 200 were lost and recorded by a repair") {
		t.Fatalf("after repair: exit %d\n%s", code, out)
	}
	out, code = runBin(t, "fsck", "--data-dir", dir, "--repair")
	if code != 0 || !strings.Contains(out, "WAL: nothing to repair") {
		t.Fatalf("second repair: exit %d\n%s", code, out)
	}
}

// Issue 8, 1.7: a deleted WAL segment is what start-up refuses on, and fsck
// reports it through the same check.
func TestFsckMissingWALSegment(t *testing.T) {
	dir := t.TempDir()
	walDir := writeFsckWAL(t, dir, 60, 4096)
	segs, _ := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if len(segs) < 3 {
		t.Fatalf("segments %v", segs)
	}
	os.Remove(segs[1])
	os.WriteFile(filepath.Join(walDir, "00001.wal"), []byte("stray"), 0o644)
	out, code := runBin(t, "fsck", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "PROBLEM: WAL segment "+segs[1]+": segment is missing: records") ||
		!strings.Contains(out, "00001.wal: named like a WAL segment") {
		t.Fatalf("missing segment: exit %d\n%s", code, out)
	}
	// Repair does not decide about a stray file; it changes nothing.
	out, code = runBin(t, "fsck", "--data-dir", dir, "--repair")
	if code != 1 || !strings.Contains(out, "repair does not decide about") {
		t.Fatalf("repair with a stray file: exit %d\n%s", code, out)
	}
	os.Remove(filepath.Join(walDir, "00001.wal"))
	out, code = runBin(t, "fsck", "--data-dir", dir, "--repair")
	if code != 0 || !strings.Contains(out, "REPAIRED: "+segs[1]+": segment was missing") {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
}

// fsck refuses what serve refuses, with the same message: damaged
// accounts.json, settings.json and token.key. Temporary files a kill left
// (event history's too) are listed, not removed, and are no problem; serve
// removes them.
func TestFsckChecksWhatServeReads(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", "123456789012")
	key := trailAccountKey(t, dir)
	ct := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")})
	if _, err := ct.LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{}); err != nil { // an event to hold
		t.Fatal(err)
	}
	srv.stop(t)
	if out, code := runBin(t, "fsck", "--data-dir", dir); code != 0 {
		t.Fatalf("fsck of a stopped server's directory: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		file, content, want string
	}{
		{"accounts.json", `{"accounts":[{"accountId":"12345"}]}`, `accounts[0].accountId: "12345" is not a 12-digit account id`},
		{"accounts.json", `{"accounts":`, "unexpected end of JSON input"},
		{"accounts.json", `{"accounts":[]}`, "holds events but"},
		{"settings.json", `{"eventHistoryRetentionDays":-5}`, "outside 0..3653"},
		{"settings.json", `not json`, "invalid character"},
		{"token.key", `short`, "token key"},
		{"lake/dashboards.json", `{"version":1,"dashboards":[{"account":"1","region":"us-east-1","name":"abc","type":"CUSTOM","status":"CREATED"}]}`, `account "1" is not 12 digits`},
		{"lake/dashboards.json", `{"version":1,`, "dashboards.json is damaged"},
	} {
		t.Run(tc.file+" "+tc.content, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			good, err := os.ReadFile(path)
			switch {
			case os.IsNotExist(err): // a file serve writes on first use
				defer os.Remove(path)
			case err != nil:
				t.Fatal(err)
			default:
				defer os.WriteFile(path, good, 0o600)
			}
			os.WriteFile(path, []byte(tc.content), 0o600)
			out, code := runBin(t, "fsck", "--data-dir", dir)
			if code != 1 || !strings.Contains(out, "PROBLEM: ") || !strings.Contains(out, tc.want) {
				t.Fatalf("fsck: exit %d, want 1 and a PROBLEM with %q\n%s", code, tc.want, out)
			}
			if tc.file == "token.key" {
				return // serve replaces a damaged key (and says so)
			}
			if out, code := runBin(t, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0"); code == 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("serve on the same damage: exit %d, want a refusal with %q\n%s", code, tc.want, out)
			}
		})
	}
	t.Run("temporary files", func(t *testing.T) {
		temps := []string{filepath.Join(dir, ".settings.json.tmp123"), filepath.Join(dir, "trails", ".trails.json.tmp7"), filepath.Join(dir, "delivery", ".state.json.tmp9")}
		for _, p := range temps {
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("partial"), 0o644)
		}
		out, code := runBin(t, "fsck", "--data-dir", dir)
		if code != 0 || !strings.Contains(out, "3 temporary files of interrupted writes") {
			t.Fatalf("fsck: exit %d\n%s", code, out)
		}
		for _, p := range temps {
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("fsck removed %s", p)
			}
		}
		srv := startServer(t, dir, freeAddr(t))
		srv.stop(t)
		for _, p := range temps {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Fatalf("serve left %s", p)
			}
		}
	}) // A kill while event history writes a segment (decision 170).
	t.Run("an interrupted index segment write", func(t *testing.T) {
		seg := filepath.Join(dir, "events", "index", "00000000000000ff.seg.tmp")
		if err := os.WriteFile(seg, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := runBin(t, "fsck", "--data-dir", dir)
		if code != 0 || !strings.Contains(out, "history: 00000000000000ff.seg.tmp is left over from an interrupted write") {
			t.Fatalf("fsck: exit %d, want 0 and the file listed\n%s", code, out)
		}
		srv := startServer(t, dir, freeAddr(t))
		srv.stop(t)
		if _, err := os.Stat(seg); !os.IsNotExist(err) {
			t.Fatalf("serve left %s", seg)
		}
	})
}
