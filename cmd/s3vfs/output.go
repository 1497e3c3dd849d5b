package main

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"golang.org/x/term"
)

// Output formats of query results.
const (
	formatTable = "table"
	formatCSV   = "csv"
	formatJSON  = "json"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// defaultFormat is a table on a terminal and CSV otherwise.
func defaultFormat(w io.Writer) string {
	if isTerminal(w) {
		return formatTable
	}
	return formatCSV
}

func checkFormat(f string) error {
	switch f {
	case formatTable, formatCSV, formatJSON:
		return nil
	}
	return usagef("unknown --format %q: use csv, json or table", f)
}

// printRows steps stmt to the end and prints its rows to w in format. A
// statement without result columns prints nothing.
func printRows(w io.Writer, stmt *sqlite3.Stmt, format string) error {
	cols := make([]string, stmt.ColumnCount())
	for i := range cols {
		cols[i] = stmt.ColumnName(i)
	}
	if len(cols) == 0 {
		for stmt.Step() {
		}
		return stmt.Err()
	}
	switch format {
	case formatCSV:
		cw := csv.NewWriter(w)
		cw.Write(cols)
		rec := make([]string, len(cols))
		for stmt.Step() {
			for i := range cols {
				rec[i] = text(stmt, i)
			}
			cw.Write(rec)
		}
		cw.Flush()
		if err := stmt.Err(); err != nil {
			return err
		}
		return cw.Error()

	case formatJSON:
		// One JSON array of objects per statement, keys in column order.
		var b strings.Builder
		b.WriteString("[")
		n := 0
		for stmt.Step() {
			if n > 0 {
				b.WriteString(",")
			}
			n++
			b.WriteString("\n  {")
			for i, c := range cols {
				if i > 0 {
					b.WriteString(", ")
				}
				k, _ := json.Marshal(c)
				v, err := json.Marshal(value(stmt, i))
				if err != nil {
					return err
				}
				b.Write(k)
				b.WriteString(": ")
				b.Write(v)
			}
			b.WriteString("}")
		}
		if err := stmt.Err(); err != nil {
			return err
		}
		if n > 0 {
			b.WriteString("\n")
		}
		b.WriteString("]\n")
		_, err := io.WriteString(w, b.String())
		return err

	default:
		table := tablewriter.NewTable(w,
			tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithRowAutoWrap(tw.WrapNone),
			tablewriter.WithHeaderAutoWrap(tw.WrapNone))
		header := make([]any, len(cols))
		for i, c := range cols {
			header[i] = c
		}
		table.Header(header...)
		var rows int
		for stmt.Step() {
			rec := make([]string, len(cols))
			for i := range cols {
				rec[i] = text(stmt, i)
				if stmt.ColumnType(i) == sqlite3.NULL {
					rec[i] = "NULL"
				}
			}
			if err := table.Append(rec); err != nil {
				return err
			}
			rows++
		}
		if err := stmt.Err(); err != nil {
			return err
		}
		if err := table.Render(); err != nil {
			return err
		}
		if rows != 1 {
			fmt.Fprintf(w, "(%d rows)\n", rows)
		} else {
			fmt.Fprintln(w, "(1 row)")
		}
		return nil
	}
}

// text is column i as text, as the sqlite3 shell prints it: numbers as
// SQLite renders them (19924084.93, not 1.992408493e+07; a real 3 as 3.0),
// blobs as hex (X'..') like its quote mode.
func text(stmt *sqlite3.Stmt, i int) string {
	switch stmt.ColumnType(i) {
	case sqlite3.NULL:
		return ""
	case sqlite3.BLOB:
		return fmt.Sprintf("X'%X'", stmt.ColumnRawBlob(i))
	}
	return stmt.ColumnText(i)
}

// value is column i as a JSON value; blobs become base64 strings.
func value(stmt *sqlite3.Stmt, i int) any {
	switch stmt.ColumnType(i) {
	case sqlite3.NULL:
		return nil
	case sqlite3.INTEGER:
		return stmt.ColumnInt64(i)
	case sqlite3.FLOAT:
		return stmt.ColumnFloat(i)
	case sqlite3.BLOB:
		return base64.StdEncoding.EncodeToString(stmt.ColumnRawBlob(i))
	}
	return stmt.ColumnText(i)
}

// runScript runs every statement of sql on conn, binding args to the
// first statement with parameters, and prints the rows of each.
func runScript(conn *sqlite3.Conn, sql string, args []string, w io.Writer, format string) error {
	for ran := 0; ; ran++ {
		stmt, tail, err := conn.Prepare(sql)
		if err != nil {
			return err
		}
		if stmt == nil { // only whitespace or comments left
			return leftover(args)
		}
		if n := stmt.BindCount(); n > 0 {
			if len(args) < n {
				stmt.Close()
				return usagef("the statement has %d parameters but %d arguments were given", n, len(args))
			}
			for i := range n {
				stmt.BindText(i+1, args[i])
			}
			args = args[n:]
		}
		retried := conn.GetAutocommit() && stmt.ColumnCount() == 0
		err = runRetried(conn, stmt, retried, func() error { return printRows(w, stmt, format) })
		text := stmt.SQL()
		stmt.Close()
		if errors.Is(err, sqlite3.BUSY) {
			return &busyError{err: err, sql: text, ran: ran, retried: retried}
		}
		if err != nil {
			return err
		}
		sql = tail
	}
}

// busyError is a statement of a script that failed with SQLITE_BUSY:
// another writer committed first and changed what its transaction read or
// wrote, so its transaction wrote nothing.
type busyError struct {
	err     error
	sql     string // the statement
	ran     int    // the statements of the script that ran before it
	retried bool   // it was its own transaction, and was run busyTries times
}

func (e *busyError) Error() string { return e.err.Error() }
func (e *busyError) Unwrap() error { return e.err }

// describe returns the line that explains e for database t.
func (e *busyError) describe(t target) error {
	why := fmt.Sprintf("another writer committed to %s first and changed what the transaction read or wrote (SQLITE_BUSY)", t)
	if e.retried {
		why += fmt.Sprintf(", %d times in a row", busyTries)
	}
	if e.ran == 0 {
		return fmt.Errorf("s3vfs: %s: nothing was written, so running it again is safe", why)
	}
	return fmt.Errorf("s3vfs: %s: statement %d (%s) and its transaction were not written; the %d before it ran, and those that committed stay: run again only what failed",
		why, e.ran+1, truncateSQL(e.sql), e.ran)
}

// truncateSQL shortens a statement for an error line.
func truncateSQL(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 60 {
		return sql[:57] + "..."
	}
	return sql
}

// busyTries is how many times a statement that is its own transaction and
// prints no rows is run when another writer commits first.
const busyTries = 10

// runRetried runs stmt with run, and when own (it is a transaction of its
// own that prints no rows: an INSERT, UPDATE, DELETE or DDL outside
// BEGIN … COMMIT) runs it again after a short pause when it failed with
// SQLITE_BUSY: such a statement wrote nothing when it failed, so running it
// again is safe. Statements inside an explicit transaction are not retried.
func runRetried(conn *sqlite3.Conn, stmt *sqlite3.Stmt, own bool, run func() error) error {
	for try := 1; ; try++ {
		err := run()
		if err == nil || !own || !errors.Is(err, sqlite3.BUSY) || try == busyTries || !conn.GetAutocommit() {
			return err
		}
		if rerr := stmt.Reset(); rerr != nil && !errors.Is(rerr, sqlite3.BUSY) {
			return err
		}
		time.Sleep(time.Duration(try*try)*20*time.Millisecond + time.Duration(rand.IntN(20))*time.Millisecond)
	}
}

// leftover reports arguments that no statement parameter took.
func leftover(args []string) error {
	switch {
	case len(args) == 0:
		return nil
	case strings.HasPrefix(args[0], "-"):
		return usagef("%q after the SQL: flags go before the database (s3vfs query --format json s3://BUCKET/KEY \"SQL\")", args[0])
	}
	return usagef("%d arguments left over: the SQL has fewer ? parameters than arguments", len(args))
}

// Every command that prints JSON takes both --json and --format json.

// registerJSON registers --json, and --format (json or text) as its other
// name, for the commands whose output is text or JSON (info, gc, doctor).
func registerJSON(fs *flag.FlagSet) *bool {
	b := fs.Bool("json", false, "print JSON (the same as --format json)")
	fs.Var(jsonFormat{b}, "format", "output `format`: text or json")
	return b
}

// jsonFormat is the --format of a command whose output is text or JSON.
type jsonFormat struct{ json *bool }

func (f jsonFormat) String() string {
	if f.json != nil && *f.json {
		return formatJSON
	}
	return ""
}

func (f jsonFormat) Set(s string) error {
	switch s {
	case formatJSON:
		*f.json = true
	case "text", formatTable:
		*f.json = false
	default:
		return errors.New("use json or text")
	}
	return nil
}

// registerJSONFormat registers --json as the other name of --format json,
// for the commands with --format (query, log, shell).
func registerJSONFormat(fs *flag.FlagSet, format *string) {
	fs.Var(jsonSwitch{format}, "json", "print JSON (the same as --format json)")
}

// jsonSwitch is the --json of a command with --format.
type jsonSwitch struct{ format *string }

func (f jsonSwitch) String() string   { return "" }
func (f jsonSwitch) IsBoolFlag() bool { return true }

func (f jsonSwitch) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	if on {
		*f.format = formatJSON
	}
	return nil
}
