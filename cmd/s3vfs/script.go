package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// runScript runs every statement of sql on conn, binding args to the
// first statement with parameters, and prints the rows of each.
func runScript(conn *sqlite3.Conn, sql string, args []string, w io.Writer, format rowFormat) error {
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

// Error implements error.
func (e *busyError) Error() string { return e.err.Error() }

// Unwrap returns the cause, for errors.Is and errors.As.
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
