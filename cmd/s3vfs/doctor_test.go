package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/s3vfs/s3vfs/internal/dyntest"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// doctor reports every check passed on the test server, as a table and as
// JSON, and names the fix for a bad argument.
func TestDoctor(t *testing.T) {
	c := newCLI(t)
	r := c.ok("", "doctor", "s3://"+c.bucket)
	for _, want := range []string{"conditional create", "read after write", "list order", "can write databases to this bucket safely"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor output does not mention %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAILED") {
		t.Errorf("a check failed on the test server:\n%s", r.stdout)
	}
	r = c.ok("", "doctor", "--json", "s3://"+c.bucket+"/")
	var out struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !out.OK || len(out.Checks) != 3 || out.Checks[0].Name == "" || !out.Checks[0].OK {
		t.Fatalf("doctor --json: %v, %+v:\n%s", err, out, r.stdout)
	}
	if strings.Contains(r.stdout, `"Name"`) {
		t.Errorf("doctor --json has Go field names, want snake_case:\n%s", r.stdout)
	}
	c.fails(2, []string{"names a key", "s3://" + c.bucket}, "doctor", "s3://"+c.bucket+"/app.db")
	c.fails(2, []string{"not a bucket"}, "doctor", c.bucket)
}

// doctor on a store without conditional writes (a proxy answers them
// with 501, as Backblaze B2 is reported to) prints the failed check with
// its fix and exits with status 1.
func TestDoctorUnsafeStore(t *testing.T) {
	c := newCLI(t)
	proxy, err := s3proxy.New(server.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind == s3proxy.PUT && req.Header.Get("If-None-Match") != "" {
			s3test.WriteError(w, http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented")
			return true
		}
		return false
	})
	r := c.runEnv([]string{"AWS_ENDPOINT_URL_S3=" + proxy.URL}, "", "doctor", "s3://"+c.bucket)
	if r.code != 1 || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "fix: use a store with conditional writes") ||
		!strings.Contains(r.stderr, "refuses to write") {
		t.Fatalf("doctor on a store without conditional writes: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("stdout:\n%s\nstderr: %s", r.stdout, r.stderr)
}

// doctor --dynamodb-table T --create-table makes the table of the
// DynamoDB coordinator (s3vfs/dynamodb) and checks the store with it; a
// command given the table then keeps its commits there: the bucket holds
// the coordinator's marker among the records' names, and no record.
func TestDoctorDynamoDBTable(t *testing.T) {
	c := newCLI(t)
	dyn, err := dyntest.Start(context.Background(), t.Logf)
	if err != nil {
		t.Fatalf("no DynamoDB server for the test: %v", err)
	}
	defer dyn.Close()
	env := []string{"AWS_ENDPOINT_URL_DYNAMODB=" + dyn.Endpoint}
	table := dyn.NewTableName()
	r := c.runEnv(env, "", "doctor", "--dynamodb-table", table, "--create-table", "s3://"+c.bucket)
	if r.code != 0 || !strings.Contains(r.stdout, "DynamoDB table "+table+" is ready") {
		t.Fatalf("doctor --create-table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	db := c.url("coord.db")
	for _, q := range []string{"CREATE TABLE t(x)", "INSERT INTO t VALUES (42)"} {
		if r := c.runEnv(env, "", "query", "--dynamodb-table", table, db, q); r.code != 0 {
			t.Fatalf("query --dynamodb-table %s: exit %d\n%s", q, r.code, r.stderr)
		}
	}
	r = c.runEnv(env, "", "query", "--dynamodb-table", table, db, "SELECT x FROM t")
	if r.code != 0 || r.stdout != "x\n42\n" {
		t.Fatalf("read back through the table: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	r = c.runEnv(nil, "", "query", db, "INSERT INTO t VALUES (1)")
	if r.code == 0 || !strings.Contains(r.stderr, "DynamoDB table "+table) {
		t.Fatalf("a write without the table: exit %d\n%s, want it refused naming the table", r.code, r.stderr)
	}
}
