package lake_test

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/lake"
)

// treeHashes maps every file under dir to a hash of its bytes.
func treeHashes(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Each kind of damage that makes a store refuse to open (or that fsck
// reports) and how lake.Repair handles it: what it unlists and quarantines,
// what it refuses, and that the store then opens with the remaining events
// and Check finds nothing more.
func TestRepairLakeDamage(t *testing.T) {
	const id = "0b3f0000-0000-4000-8000-000000000007"
	const lostID = "0b3f0000-0000-4000-8000-0000000000ff"
	type env struct {
		lakeDir, storeDir string
		first             string // the file holding events 1 and 2 (seq 1 and 2)
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, e env)
		// lost: the first batch's events are lost; moved: where the
		// repair moved something, under quarantine/ ("" for nowhere).
		lost    bool
		moved   string
		refused string // a substring of the refusal; the store keeps refusing
		unknown bool   // a store directory the catalogue does not know
		events  int    // what the store holds after the repair
	}{
		{name: "missing file", damage: func(t *testing.T, e env) {
			if err := os.Remove(e.first); err != nil {
				t.Fatal(err)
			}
		}, lost: true, events: 1},
		{name: "wrong size", damage: func(t *testing.T, e env) {
			if err := os.Truncate(e.first, 100); err != nil {
				t.Fatal(err)
			}
		}, lost: true, moved: filepath.Join(id, "day=2026-11-01_b-1-2.parquet"), events: 1},
		{name: "damaged hash, quarantine name taken", damage: func(t *testing.T, e env) {
			flipMiddle(t, e.first)
			taken := filepath.Join(e.lakeDir, "quarantine", id, "day=2026-11-01_b-1-2.parquet")
			if err := os.MkdirAll(filepath.Dir(taken), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(taken, []byte("set aside earlier"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, lost: true, moved: filepath.Join(id, "day=2026-11-01_b-1-2.parquet.1"), events: 1},
		{name: "unknown store", damage: func(t *testing.T, e env) {
			if err := os.CopyFS(filepath.Join(e.lakeDir, acct, lostID), os.DirFS(e.storeDir)); err != nil {
				t.Fatal(err)
			}
		}, unknown: true, moved: filepath.Join(acct, lostID), events: 3},
		{name: "missing MANIFEST", damage: func(t *testing.T, e env) {
			if err := os.Remove(filepath.Join(e.storeDir, "MANIFEST.json")); err != nil {
				t.Fatal(err)
			}
		}, refused: "is missing but the store's directory holds 2 files"},
		{name: "MANIFEST does not parse", damage: func(t *testing.T, e env) {
			if err := os.WriteFile(filepath.Join(e.storeDir, "MANIFEST.json"), []byte(`{"version":1,"files":[`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, refused: "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stores := &fakeStores{specs: []lake.StoreSpec{spec(id, 1)}}
			dir := t.TempDir()
			r := twoBatches(t, dir, stores, id)
			r.stop()
			e := env{lakeDir: filepath.Join(dir, "lake"), storeDir: filepath.Join(dir, "lake", acct, id),
				first: filepath.Join(dir, "lake", acct, id, "day=2026-11-01", "b-1-2.parquet")}
			if _, err := os.Stat(e.first); err != nil {
				t.Fatalf("the store's first batch: %v (files %v)", err, lakeFiles(t, dir, id))
			}
			tt.damage(t, e)
			if rep := lake.Check(e.lakeDir, stores.DataStores()); len(rep.Problems) == 0 {
				t.Fatal("Check found no problem before the repair")
			}
			before := treeHashes(t, e.lakeDir)

			rep, err := lake.Repair(e.lakeDir, stores.DataStores())
			if err != nil {
				t.Fatal(err)
			}
			if tt.refused != "" {
				if len(rep.Actions) != 0 || len(rep.Refused) != 1 || !strings.Contains(rep.Refused[0], tt.refused) ||
					!strings.Contains(rep.Refused[0], "restore") || !strings.Contains(rep.Refused[0], "move the store's directory away") {
					t.Fatalf("repair: actions %v, refused %q; want only a refusal with %q", rep.Actions, rep.Refused, tt.refused)
				}
				if d := cmp.Diff(before, treeHashes(t, e.lakeDir)); d != "" {
					t.Fatalf("a refused repair changed the lake (-before +after):\n%s", d)
				}
				o := lake.DefaultOptions()
				o.Stores = stores
				if eng, err := lake.Open(t.Context(), e.lakeDir, o); !errors.Is(err, lake.ErrDamaged) || !strings.Contains(err.Error(), tt.refused) {
					if eng != nil {
						eng.Close()
					}
					t.Fatalf("open after a refused repair: %v; want ErrDamaged with %q", err, tt.refused)
				}
				return
			}
			if len(rep.Refused) != 0 || len(rep.Actions) != 1 {
				t.Fatalf("repair: actions %v, refused %q; want one action", rep.Actions, rep.Refused)
			}
			a := rep.Actions[0]
			if tt.moved == "" && a.Quarantine != "" || tt.moved != "" && a.Quarantine != filepath.Join(e.lakeDir, "quarantine", tt.moved) {
				t.Errorf("moved to %q, want quarantine/%s", a.Quarantine, tt.moved)
			}
			if tt.lost {
				if a.Lost == nil || a.Lost.Name != filepath.Join("day=2026-11-01", "b-1-2.parquet") || a.Lost.Rows != 2 || a.Lost.MinSeq != 1 || a.Lost.MaxSeq != 2 {
					t.Fatalf("lost %+v, want b-1-2.parquet's entry (2 events, seq 1 to 2)", a.Lost)
				}
				msg := a.String()
				for _, want := range []string{id, "b-1-2.parquet", "its 2 events are lost", "log sequence 1 to 2", "eventtime 2026-11-01T23:59:01Z to 2026-11-01T23:59:02Z"} {
					if !strings.Contains(msg, want) {
						t.Errorf("action %q does not say %q", msg, want)
					}
				}
				if _, err := os.Stat(e.first + ".bloom"); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the lost file's eventid filter is still in the store: %v", err)
				}
				if tt.moved != "" {
					if _, err := os.Stat(a.Quarantine + ".bloom"); err != nil {
						t.Errorf("the eventid filter did not go with the file: %v", err)
					}
				}
			} else if a.Lost != nil {
				t.Errorf("lost %+v, want nothing", a.Lost)
			}
			if tt.unknown {
				if _, err := os.Stat(filepath.Join(e.lakeDir, "quarantine", tt.moved, "MANIFEST.json")); err != nil {
					t.Errorf("the unknown store's directory was not moved whole: %v", err)
				}
				if _, err := os.Stat(filepath.Join(e.lakeDir, acct, lostID)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the unknown store is still in the lake: %v", err)
				}
			}
			// Nothing lost its bytes: whatever left the store is in
			// quarantine, but a missing file and derived filters.
			after := treeHashes(t, e.lakeDir)
			kept := map[[32]byte]bool{}
			for _, h := range after {
				kept[h] = true
			}
			for p, h := range before {
				if !kept[h] && !strings.HasSuffix(p, "MANIFEST.json") && !strings.HasSuffix(p, ".bloom") {
					t.Errorf("the repair dropped %s", p)
				}
			}
			if rep := lake.Check(e.lakeDir, stores.DataStores()); len(rep.Problems) != 0 {
				t.Fatalf("Check after the repair: %q", rep.Problems)
			}
			if again, err := lake.Repair(e.lakeDir, stores.DataStores()); err != nil || len(again.Actions)+len(again.Refused) != 0 {
				t.Fatalf("a second repair: %+v, %v; want nothing to do", again, err)
			}
			r.start()
			r.count(id, tt.events)
			// The store goes on ingesting after its repair.
			r.append(mkEvent(t, 4, acct))
			r.count(id, tt.events+1)
		})
	}
}

// A store that was never written to has nothing to repair, and the repair
// creates nothing for it.
func TestRepairEmptyLake(t *testing.T) {
	dir := t.TempDir()
	stores := []lake.StoreSpec{spec("0b3f0000-0000-4000-8000-000000000008", 1)}
	rep, err := lake.Repair(dir, stores)
	if err != nil || len(rep.Actions)+len(rep.Refused) != 0 {
		t.Fatalf("repair of an empty lake: %+v, %v", rep, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("the repair created %v", ents)
	}
}

// A MANIFEST damaged so that it names a file that is not there, while the
// file it meant is unlisted: the repair unlists the missing name but
// deletes nothing, not even the unlisted file that looks like a leftover
// (the server would delete it at start); it goes to quarantine.
func TestRepairLakeKeepsUnlistedFiles(t *testing.T) {
	const id = "0b3f0000-0000-4000-8000-000000000009"
	stores := &fakeStores{specs: []lake.StoreSpec{spec(id, 1)}}
	dir := t.TempDir()
	r := newRig(t, dir, stores)
	r.append(mkEvent(t, 1, acct), mkEvent(t, 2, acct))
	r.restart()
	r.count(id, 2)
	r.stop()
	lakeDir := filepath.Join(dir, "lake")
	man := filepath.Join(lakeDir, acct, id, "MANIFEST.json")
	b, err := os.ReadFile(man)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), "b-1-2.parquet", "b-1-9.parquet", 1)
	if changed == string(b) {
		t.Fatalf("MANIFEST does not list b-1-2.parquet:\n%s", b)
	}
	if err := os.WriteFile(man, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := lake.Repair(lakeDir, stores.DataStores())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range rep.Actions {
		to := "nowhere"
		if a.Quarantine != "" {
			to, _ = filepath.Rel(lakeDir, a.Quarantine)
		}
		got = append(got, a.Path+" -> "+to)
	}
	want := []string{
		filepath.Join("day=2026-11-01", "b-1-9.parquet") + " -> nowhere", // missing: unlisted, moved nowhere
		filepath.Join("day=2026-11-01", "b-1-2.parquet") + " -> " + filepath.Join("quarantine", id, "day=2026-11-01_b-1-2.parquet"),
		filepath.Join("day=2026-11-01", "b-1-2.parquet.bloom") + " -> nowhere", // derived: removed
	}
	if d := cmp.Diff(want, got); d != "" || len(rep.Refused) != 0 {
		t.Fatalf("actions (-want +got):\n%s\nrefused %q", d, rep.Refused)
	}
	if rep.Actions[0].Lost == nil || rep.Actions[0].Lost.Rows != 2 {
		t.Fatalf("the missing file's entry: %+v", rep.Actions[0].Lost)
	}
	if rep := lake.Check(lakeDir, stores.DataStores()); len(rep.Problems) != 0 || len(rep.Quarantined) != 1 {
		t.Fatalf("Check after the repair: problems %q, quarantined %q", rep.Problems, rep.Quarantined)
	}
}
