package sns

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CheckReport is what [Check] found.
type CheckReport struct {
	Topics, Subscriptions, Pending int
	// Problems are the files Open would refuse or set aside.
	Problems []string
}

// Check reads dir as Open does, without changing anything (for
// `opentrail fsck`): the state, the signing key pair and every queued
// delivery.
func Check(dir string) CheckReport {
	var r CheckReport
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return r
	}
	if st, err := loadState(dir); err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.Topics, r.Subscriptions = len(st.Topics), len(st.Subscriptions)
	}
	keyPEM, kerr := os.ReadFile(filepath.Join(dir, keyFile))
	certPEM, cerr := os.ReadFile(filepath.Join(dir, certFile))
	switch {
	case errors.Is(kerr, os.ErrNotExist) && errors.Is(cerr, os.ErrNotExist):
		// Made on the next start.
	case kerr != nil || cerr != nil:
		r.Problems = append(r.Problems, fmt.Sprintf("sns signing key pair: %v; the server refuses to start: delete %s and %s together to make a new pair",
			errors.Join(kerr, cerr), filepath.Join(dir, keyFile), filepath.Join(dir, certFile)))
	default:
		if _, err := parseSigner(keyPEM, certPEM); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("sns signing key pair: %v; the server refuses to start: delete %s and %s together to make a new pair",
				err, filepath.Join(dir, keyFile), filepath.Join(dir, certFile)))
		}
	}
	qdir := filepath.Join(dir, queueDir)
	ents, err := os.ReadDir(qdir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		r.Problems = append(r.Problems, fmt.Sprintf("sns queue: %v", err))
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(qdir, name))
		var d delivery
		seq, perr := strconv.ParseUint(strings.TrimSuffix(name, ".json"), 10, 64)
		if err != nil || json.Unmarshal(b, &d) != nil || perr != nil || d.Version != deliveryVersion || d.Seq != seq {
			r.Problems = append(r.Problems, fmt.Sprintf("sns queue file %s does not decode; the next start moves it to %s and does not deliver it",
				filepath.Join(qdir, name), filepath.Join(dir, quarantineDir)))
			continue
		}
		r.Pending++
	}
	return r
}
