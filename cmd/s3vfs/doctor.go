package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/dynamodb"
)

const doctorHelp = `
Usage: s3vfs doctor [flags] s3://BUCKET

Tests the store behind the bucket for what s3vfs relies on to keep every
commit: that a conditional create (If-None-Match: *) of an existing object
is refused, that an object reads back right after its create, and that
listings come sorted. It writes two tiny objects under the reserved prefix
_s3vfs/storecheck/ and removes them (seven requests in all), and prints
what the store did, with the fix for each failed check. It exits with
status 1 if the store fails a check: s3vfs then refuses to write there.

Examples:

	s3vfs doctor s3://my-bucket
	s3vfs doctor --json --endpoint http://127.0.0.1:9000 s3://my-bucket
`

// doctorCommand tests the store behind a bucket.
type doctorCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *doctorCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("doctor", doctorHelp, c.stdout)
	c.aws.register(fs)
	asJSON := registerJSON(fs)
	createTable := fs.Bool("create-table", false, "with --dynamodb-table: create the table (on-demand capacity) if it does not exist")
	if err := parseFlagsAnywhere(fs, args); err != nil {
		return err
	}
	if *createTable && c.aws.table == "" {
		return usagef("--create-table needs --dynamodb-table TABLE")
	}
	if fs.NArg() != 1 {
		return usagef("doctor needs one bucket: s3vfs doctor s3://BUCKET")
	}
	bucket, err := parseBucket(fs.Arg(0))
	if err != nil {
		return err
	}
	r, err := c.check(ctx, target{bucket: bucket}, *createTable)
	if err != nil {
		return err
	}
	if *asJSON {
		err = printStoreReportJSON(c.stdout, r)
	} else {
		err = c.printStoreReport(r)
	}
	if err != nil {
		return err
	}
	return r.Err()
}

// check tests the store behind t's bucket, first creating the DynamoDB
// table if createTable.
func (c *doctorCommand) check(ctx context.Context, t target, createTable bool) (s3vfs.StoreReport, error) {
	v, err := c.aws.vfs(ctx, t)
	if err != nil {
		return s3vfs.StoreReport{}, err
	}
	if createTable {
		if err := dynamodb.CreateTable(ctx, c.aws.dynamodb(), c.aws.table); err != nil {
			return s3vfs.StoreReport{}, err
		}
		fmt.Fprintf(c.stdout, "DynamoDB table %s is ready\n", c.aws.table)
	}
	r, err := v.CheckStore(ctx)
	if err != nil {
		return r, describe(err, t)
	}
	return r, nil
}

// printStoreReportJSON prints r as JSON.
func printStoreReportJSON(w io.Writer, r s3vfs.StoreReport) error {
	type check struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Found  string `json:"found,omitempty"`
		Fix    string `json:"fix,omitempty"`
		Relied bool   `json:"relied"`
	}
	checks := make([]check, len(r.Checks))
	for i, ch := range r.Checks {
		checks[i] = check{ch.Name, ch.OK, ch.Found, ch.Fix, ch.Relied}
	}
	return writeJSON(w, struct {
		Bucket string  `json:"bucket"`
		OK     bool    `json:"ok"`
		Checks []check `json:"checks"`
	}{r.Bucket, r.OK(), checks})
}

// printStoreReport prints r for people: a table of the checks, with the
// fix of each failed one.
func (c *doctorCommand) printStoreReport(r s3vfs.StoreReport) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "bucket:\t%s\n\n", r.Bucket)
	fmt.Fprintln(tw, "CHECK\tRESULT\tWHAT THE STORE DID / FIX")
	for _, ch := range r.Checks {
		if ch.OK {
			fmt.Fprintf(tw, "%s\tok\n", ch.Name)
			continue
		}
		if !ch.Relied {
			fmt.Fprintf(tw, "%s\tfailed, not needed\t%s (the commits are kept in DynamoDB table %s)\n", ch.Name, ch.Found, c.aws.table)
			continue
		}
		fmt.Fprintf(tw, "%s\tFAILED\t%s\n", ch.Name, ch.Found)
		fmt.Fprintf(tw, "\t\tfix: %s\n", ch.Fix)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.OK() {
		fmt.Fprintln(c.stdout, "\ns3vfs can write databases to this bucket safely.")
	}
	return nil
}

// parseBucket parses an s3://BUCKET argument (a trailing slash is fine).
func parseBucket(s string) (string, error) {
	const example = "s3://my-bucket"
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", usagef("%q is not a bucket: write it as %s", s, example)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return "", usagef("%q names a key: doctor tests the whole bucket, write it as s3://%s", s, u.Host)
	}
	return u.Host, nil
}
