package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/lake/resultfile"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/s3/s3test"
	"github.com/opentrail/opentrail/internal/testenv"
)

// queryRows runs a Lake query with the aws CLI, waits for it to finish
// and returns its rows as get-query-results gives them (null as "").
func queryRows(t *testing.T, env []string, stmt string) [][]string {
	t.Helper()
	var started struct{ QueryId string }
	cliJSON(t, env, &started, "cloudtrail", "start-query", "--query-statement", stmt)
	var res struct {
		QueryStatus     string
		ErrorMessage    string
		QueryResultRows [][]map[string]*string
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		cliJSON(t, env, &res, "cloudtrail", "get-query-results", "--query-id", started.QueryId)
		if res.QueryStatus != "QUEUED" && res.QueryStatus != "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after 60s", stmt, res.QueryStatus)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res.QueryStatus != "FINISHED" {
		t.Fatalf("%s: %s: %s", stmt, res.QueryStatus, res.ErrorMessage)
	}
	var rows [][]string
	for _, r := range res.QueryResultRows {
		var row []string
		for _, cell := range r {
			for _, v := range cell {
				if v == nil {
					row = append(row, "")
				} else {
					row = append(row, *v)
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// localFiles reads objects a test downloaded: bucket/key under root.
type localFiles string

func (l localFiles) Get(_ context.Context, bucket, key string) (io.ReadCloser, objstore.Object, error) {
	f, err := os.Open(filepath.Join(string(l), bucket, filepath.FromSlash(key)))
	if os.IsNotExist(err) {
		return nil, objstore.Object{}, fmt.Errorf("%s: %w", key, objstore.ErrNoSuchKey)
	}
	if err != nil {
		return nil, objstore.Object{}, err
	}
	return f, objstore.Object{Key: key}, nil
}

// cliKeys asks ListPublicKeys with the aws CLI.
type cliKeys struct {
	t   *testing.T
	env []string
}

func (k cliKeys) PublicKeys(_ context.Context, start, end time.Time) ([]resultfile.PublicKey, error) {
	var out struct {
		PublicKeyList []struct {
			Value       []byte // base64 in the CLI's JSON
			Fingerprint string
		}
	}
	cliJSON(k.t, k.env, &out, "cloudtrail", "list-public-keys",
		"--start-time", start.UTC().Format(time.RFC3339), "--end-time", end.UTC().Format(time.RFC3339))
	var keys []resultfile.PublicKey
	for _, p := range out.PublicKeyList {
		keys = append(keys, resultfile.PublicKey{Fingerprint: p.Fingerprint, Value: p.Value})
	}
	return keys, nil
}

// TestLakeQueryResultsAWSCLI is the check of delivered query
// results with the real aws CLI only: create an event data store, make
// calls it records, run start-query with --delivery-s3-uri, wait with
// describe-query for DeliveryStatus SUCCESS, fetch the folder with
// aws s3 cp, and find in the CSV the rows get-query-results returns, the
// sign file valid against list-public-keys. It runs with the embedded
// bucket store and with versitygw.
func TestLakeQueryResultsAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	for _, backend := range []string{"embedded", "versitygw"} {
		t.Run(backend, func(t *testing.T) { lakeQueryResultsAWSCLI(t, backend) })
	}
}

func lakeQueryResultsAWSCLI(t *testing.T, backend string) {
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	args := []string{"--account-id", trailAccount}
	s3URL := "http://" + addr
	if backend == "versitygw" {
		endpoint, _, _ := s3test.StartVersityWith(t, key.AccessKeyID, key.SecretAccessKey)
		s3URL = endpoint
		args = append(args, "--buckets-endpoint", endpoint)
		t.Setenv("OPENTRAIL_BUCKETS_ACCESS_KEY_ID", key.AccessKeyID)
		t.Setenv("OPENTRAIL_BUCKETS_SECRET_ACCESS_KEY", key.SecretAccessKey)
	}
	srv := startServer(t, dir, addr, args...)
	defer srv.kill()
	env := awsEnv(key, addr, s3URL)

	var created struct{ EventDataStoreArn string }
	cliJSON(t, env, &created, "cloudtrail", "create-event-data-store", "--name", "audit")
	store := created.EventDataStoreArn[strings.LastIndex(created.EventDataStoreArn, "/")+1:]
	cliOK(t, env, "s3", "mb", "s3://lake-results")
	// Calls the store records: a failing one (errorcode), and request
	// parameters with a comma and quotes, which the CSV must quote.
	cli(t, env, "cloudtrail", "get-trail", "--name", `no,such "trail"`)
	cliOK(t, env, "cloudtrail", "describe-trails")
	stmt := "SELECT eventname, errorcode, requestparameters FROM " + store +
		" WHERE eventname IN ('GetTrail', 'DescribeTrails') ORDER BY eventname"
	deadline := time.Now().Add(60 * time.Second)
	var want [][]string
	for {
		if want = queryRows(t, env, stmt); len(want) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s the store has %d of the 2 calls: %q", len(want), want)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(want[1][2], `,`) || !strings.Contains(want[1][2], `"`) || want[0][1] != "" || want[1][1] == "" {
		t.Fatalf("the rows should hold a NULL, an error code and a value with a comma and quotes: %q", want)
	}

	var started struct{ QueryId string }
	cliJSON(t, env, &started, "cloudtrail", "start-query", "--query-statement", stmt, "--delivery-s3-uri", "s3://lake-results/exports/")
	var desc struct {
		QueryStatus, DeliveryStatus, DeliveryS3Uri, ErrorMessage string
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		cliJSON(t, env, &desc, "cloudtrail", "describe-query", "--query-id", started.QueryId)
		if desc.DeliveryStatus != "PENDING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: query %s, delivery %s", desc.QueryStatus, desc.DeliveryStatus)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if desc.QueryStatus != "FINISHED" || desc.DeliveryStatus != "SUCCESS" || desc.DeliveryS3Uri != "s3://lake-results/exports/" {
		t.Fatalf("describe-query: %+v", desc)
	}

	keys := listKeys(t, env, "lake-results", "exports/")
	folder := "exports/AWSLogs/" + trailAccount + "/CloudTrail-Lake/Query/" + time.Now().UTC().Format("2006/01/02") + "/" + started.QueryId
	if diff := cmp.Diff([]string{folder + "/result_1.csv.gz", folder + "/result_sign.json"}, keys); diff != "" {
		// A query that finished just before midnight UTC has yesterday's
		// folder; anything else is wrong.
		if len(keys) != 2 || !strings.HasSuffix(keys[0], "/"+started.QueryId+"/result_1.csv.gz") {
			t.Fatalf("delivered objects (-want +got):\n%s", diff)
		}
		folder = strings.TrimSuffix(keys[0], "/result_1.csv.gz")
	}
	local := t.TempDir()
	cliOK(t, env, "s3", "cp", "--recursive", "s3://lake-results/"+folder, filepath.Join(local, "lake-results", filepath.FromSlash(folder)))
	got, err := csv.NewReader(bytes.NewReader(gunzipBytes(t, readFile(t, filepath.Join(local, "lake-results", filepath.FromSlash(folder), "result_1.csv.gz"))))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append([][]string{{"eventname", "errorcode", "requestparameters"}}, want...), got); diff != "" {
		t.Errorf("result_1.csv.gz (-get-query-results +file):\n%s", diff)
	}
	if _, err := resultfile.Verify(t.Context(), localFiles(local), cliKeys{t, env}, "lake-results", folder); err != nil {
		t.Errorf("the downloaded results do not verify: %v", err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
