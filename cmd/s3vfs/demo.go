package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3server"
)

const demoHelp = `
Usage: s3vfs demo [flags]

Starts a throwaway S3 server on 127.0.0.1 (versitygw, built once with
"go install" and cached), creates a bucket, writes a SQLite database into it
through the VFS, queries it, exports it to a local file that plain SQLite
opens, prints the S3 requests all of this took, and removes everything.
No account and no configuration are needed.

With --server-path it only prints where that server binary is, building
it the first time, to run it yourself (docs/getting-started.md).

Example:

	go run ./cmd/s3vfs demo
	s3vfs demo --rows 20000
	versitygw=$(s3vfs demo --server-path)
`

// demoCommand shows the library end to end against a local S3 server.
type demoCommand struct {
	ioStreams
}

// Run implements command.
func (c *demoCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("demo", demoHelp, c.stdout)
	rows := fs.Int("rows", 5000, "number of order rows to write")
	serverPath := fs.Bool("server-path", false, "print the path of the S3 server binary (versitygw) the demo runs, building it the first time, and exit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("demo takes no arguments (got %q)", fs.Arg(0))
	}
	if *serverPath {
		return c.printServerPath(ctx)
	}
	if *rows < 1 {
		return usagef("demo: --rows must be at least 1")
	}
	return c.demo(ctx, *rows)
}

// printServerPath prints the path of the S3 server binary, building it
// the first time.
func (c *demoCommand) printServerPath(ctx context.Context) error {
	bin, err := s3server.Binary(ctx, func(format string, args ...any) {
		fmt.Fprintf(c.stderr, format+"\n", args...)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, bin)
	return nil
}

// step prints the heading of one step of the demo.
func (c *demoCommand) step(format string, args ...any) {
	fmt.Fprintf(c.stdout, "==> "+format+"\n", args...)
}

// demo runs the demo with a database of rows orders: a server and a bucket
// for it, the database written and queried through the VFS, then exported.
func (c *demoCommand) demo(ctx context.Context, rows int) error {
	out := c.stdout
	c.step("Starting a throwaway S3 server on 127.0.0.1")
	srv, err := s3server.Start(ctx, func(format string, args ...any) {
		fmt.Fprintf(out, "    "+format+"\n", args...)
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(out, "    endpoint %s\n", srv.Endpoint)

	bucket, err := srv.CreateBucket(ctx)
	if err != nil {
		return err
	}
	defer srv.RemoveBucket(context.WithoutCancel(ctx), bucket)
	c.step("Created bucket %s", bucket)

	v, err := s3vfs.New(srv.Client(""), bucket, nil)
	if err != nil {
		return err
	}
	const vfsName = "s3vfs-demo"
	vfs.Register(vfsName, v)
	defer vfs.Unregister(vfsName)

	const key = "demo/shop.db"
	if err := c.demoDatabase(ctx, v, "file:"+key+"?vfs="+vfsName, rows); err != nil {
		return err
	}
	if err := c.demoLocalCopy(ctx, v, key); err != nil {
		return err
	}
	c.step("Request statistics of the whole run (VFS.Stats)")
	fmt.Fprintf(out, "    %v\n", v.Stats())
	c.step("Cleaning up: removing the bucket, the server and the local file")
	return nil
}

// demoDatabase writes a database of rows orders at dsn through v and
// queries it, printing the S3 requests each took. It closes the database
// before it returns.
func (c *demoCommand) demoDatabase(ctx context.Context, v *s3vfs.VFS, dsn string, rows int) error {
	out := c.stdout
	c.step("Writing a database through the VFS: %s", dsn)
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	before := v.Stats()
	if err := demoWrite(ctx, db, rows); err != nil {
		return err
	}
	var commit string
	if err := db.QueryRowContext(ctx, "PRAGMA s3vfs_commit").Scan(&commit); err != nil {
		return err
	}
	fmt.Fprintf(out, "    %d customers, %d orders, one index, in %v; now at commit %s\n",
		200, rows, time.Since(start).Round(time.Millisecond), commit)
	fmt.Fprintf(out, "    S3 requests: %v\n", v.Stats().Sub(before))

	c.step("Querying it: the five best customers")
	before = v.Stats()
	if err := demoQuery(ctx, db, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "    S3 requests: %v\n", v.Stats().Sub(before))
	return nil
}

// demoLocalCopy exports the database at key to a temporary local file and
// opens that with plain SQLite.
func (c *demoCommand) demoLocalCopy(ctx context.Context, v *s3vfs.VFS, key string) error {
	out := c.stdout
	dir, err := os.MkdirTemp("", "s3vfs-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, "shop.db")
	c.step("Exporting it to a local file with SerializeReader: %s", local)
	if err := demoExport(ctx, v, key, local); err != nil {
		return err
	}
	if st, err := os.Stat(local); err == nil {
		fmt.Fprintf(out, "    %d bytes\n", st.Size())
	}

	c.step("Opening the local file with plain SQLite (no S3 involved)")
	return demoCheckLocal(ctx, local, out)
}

func demoWrite(ctx context.Context, db *sql.DB, rows int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := []string{
		`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER NOT NULL REFERENCES customers(id),
			placed TEXT NOT NULL, amount_cents INTEGER NOT NULL)`,
		`CREATE INDEX orders_by_customer ON orders(customer)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 200)
			INSERT INTO customers SELECT i, 'customer ' || i,
				CASE i % 4 WHEN 0 THEN 'NL' WHEN 1 THEN 'US' WHEN 2 THEN 'JP' ELSE 'BR' END FROM n`,
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	// Deterministic pseudo-random orders, so every run prints the same.
	_, err = tx.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?)
		INSERT INTO orders SELECT i, 1 + (i * 7919) % 200,
			date('2025-01-01', '+' || (i % 365) || ' days'), 100 + (i * 104729) % 50000 FROM n`, rows)
	if err != nil {
		return err
	}
	return tx.Commit()
}

func demoQuery(ctx context.Context, db *sql.DB, out io.Writer) error {
	rows, err := db.QueryContext(ctx, `SELECT c.name, c.country, count(*), printf('%.2f', sum(o.amount_cents) / 100.0)
		FROM orders o JOIN customers c ON c.id = o.customer
		GROUP BY c.id ORDER BY sum(o.amount_cents) DESC, c.id LIMIT 5`)
	if err != nil {
		return err
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "    name\tcountry\torders\ttotal")
	for rows.Next() {
		var name, country, total string
		var n int
		if err := rows.Scan(&name, &country, &n, &total); err != nil {
			return err
		}
		fmt.Fprintf(tw, "    %s\t%s\t%d\t%s\n", name, country, n, total)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}

func demoExport(ctx context.Context, v *s3vfs.VFS, key, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := v.SerializeReader(ctx, key)
	defer r.Close()
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func demoCheckLocal(ctx context.Context, path string, out io.Writer) error {
	db, err := sql.Open("sqlite3", "file:"+filepath.ToSlash(path)+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var check string
	var orders int
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM orders").Scan(&orders); err != nil {
		return err
	}
	fmt.Fprintf(out, "    integrity_check: %s; %d orders\n", check, orders)
	if check != "ok" {
		return fmt.Errorf("s3vfs demo: the exported file fails integrity_check: %s", check)
	}
	return nil
}
