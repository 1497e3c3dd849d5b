package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
)

const queryHelp = `
Usage: s3vfs query [flags] s3://BUCKET/KEY "SQL" [ARG...]

Runs SQL (one or more statements) on the database and prints the rows.
ARGs are bound, as text, to the statement's ? parameters in order.
A database that does not exist yet is created by the first write.
Output is a table on a terminal and CSV otherwise, unless --format says.
--commit or --asof read an older version of the database, read-only
("s3vfs log" lists the commits kept).

Examples:

	s3vfs query s3://my-bucket/app.db "SELECT count(*) FROM users"
	s3vfs query --format json s3://my-bucket/app.db "SELECT * FROM users WHERE id = ?" 42
	s3vfs query --stats s3://my-bucket/app.db "CREATE TABLE t(x); INSERT INTO t VALUES (1)"
	s3vfs query --commit 1234 s3://my-bucket/app.db "SELECT count(*) FROM users"
`

// queryCommand runs SQL on a database in S3.
type queryCommand struct {
	ioStreams
	flags sessionFlags
}

// Run implements command.
func (c *queryCommand) Run(ctx context.Context, args []string) error {
	var stats *bool
	fs, err := c.flags.parse("query", queryHelp, "output `format`: csv, json or table (default table on a terminal, csv otherwise)", c.stdout, args,
		func(fs *flag.FlagSet) {
			stats = fs.Bool("stats", false, "print the S3 requests and bytes the SQL cost to stderr")
		})
	if err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usagef("query needs a database and SQL: s3vfs query s3://BUCKET/KEY \"SELECT ...\"")
	}
	for _, a := range fs.Args()[2:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && fs.Lookup(name) != nil {
			return leftover([]string{a})
		}
	}
	s, err := c.flags.open(ctx, fs.Arg(0), c.stdout)
	if err != nil {
		return err
	}
	defer s.Close()
	s.conn.SetInterrupt(ctx)
	before := s.v.Stats()
	err = runScript(s.conn, fs.Arg(1), fs.Args()[2:], c.stdout, rowFormat{name: c.flags.format})
	if *stats {
		fmt.Fprintf(c.stderr, "s3: %v\n", s.v.Stats().Sub(before))
	}
	if err != nil {
		return describe(err, s.t)
	}
	return nil
}
