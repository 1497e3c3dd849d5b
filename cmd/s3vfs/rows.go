package main

import (
	"bufio"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ncruces/go-sqlite3"
)

// rowFormat says how query results are printed.
type rowFormat struct {
	name     string // formatTable, formatCSV or formatJSON
	noHeader bool   // CSV without its header line (the shell's ".headers off")
}

// rowWriter prints the rows of one statement as they are stepped, so that
// a result of any size prints in bounded memory.
type rowWriter interface {
	row(stmt *sqlite3.Stmt) error
	// end finishes the output after n rows, or after a failure (err), in
	// which case what was printed stays and nothing is added but what
	// closes it.
	end(n int, err error) error
}

// printRows steps stmt to the end and prints its rows to w as f says. A
// statement without result columns prints nothing.
func printRows(w io.Writer, stmt *sqlite3.Stmt, f rowFormat) error {
	cols := make([]string, stmt.ColumnCount())
	for i := range cols {
		cols[i] = stmt.ColumnName(i)
	}
	if len(cols) == 0 {
		for stmt.Step() {
		}
		return stmt.Err()
	}
	out := newRowWriter(w, cols, f)
	n := 0
	var err error
	for stmt.Step() {
		if err = out.row(stmt); err != nil {
			break
		}
		n++
	}
	if err == nil {
		err = stmt.Err()
	}
	if endErr := out.end(n, err); err == nil {
		err = endErr
	}
	return err
}

// newRowWriter returns the writer of format f for columns cols.
func newRowWriter(w io.Writer, cols []string, f rowFormat) rowWriter {
	switch f.name {
	case formatCSV:
		cw := csv.NewWriter(w)
		if !f.noHeader {
			cw.Write(cols)
		}
		return &csvRows{w: cw, rec: make([]string, len(cols))}
	case formatJSON:
		keys := make([][]byte, len(cols))
		for i, c := range cols {
			keys[i], _ = json.Marshal(c)
		}
		return &jsonRows{w: bufio.NewWriter(w), keys: keys}
	}
	return &tableRows{t: newTableWriter(w, cols), cols: len(cols)}
}

// csvRows prints CSV with a header line.
type csvRows struct {
	w   *csv.Writer
	rec []string
}

func (c *csvRows) row(stmt *sqlite3.Stmt) error {
	for i := range c.rec {
		c.rec[i] = text(stmt, i)
	}
	return c.w.Write(c.rec)
}

func (c *csvRows) end(int, error) error {
	c.w.Flush()
	return c.w.Error()
}

// jsonRows prints one JSON array of objects, keys in column order.
type jsonRows struct {
	w    *bufio.Writer
	keys [][]byte // the column names, as JSON strings
	n    int
}

func (j *jsonRows) row(stmt *sqlite3.Stmt) error {
	if j.n == 0 {
		j.w.WriteString("[")
	} else {
		j.w.WriteString(",")
	}
	j.n++
	j.w.WriteString("\n  {")
	for i, k := range j.keys {
		if i > 0 {
			j.w.WriteString(", ")
		}
		v, err := json.Marshal(value(stmt, i))
		if err != nil {
			return err
		}
		j.w.Write(k)
		j.w.WriteString(": ")
		j.w.Write(v)
	}
	_, err := j.w.WriteString("}")
	return err
}

func (j *jsonRows) end(n int, err error) error {
	switch {
	case err != nil && n == 0:
		// Nothing printed: print nothing, the error says what happened.
	case n == 0:
		j.w.WriteString("[]\n")
	default:
		// Close the array even after a failure, so that what printed
		// parses; the exit status tells that it is not the whole result.
		j.w.WriteString("\n]\n")
	}
	return j.w.Flush()
}

// tableRows prints a table, NULL as "NULL", and the row count under it.
type tableRows struct {
	t    *tableWriter
	cols int
}

func (t *tableRows) row(stmt *sqlite3.Stmt) error {
	rec := make([]string, t.cols)
	for i := range rec {
		rec[i] = text(stmt, i)
		if stmt.ColumnType(i) == sqlite3.NULL {
			rec[i] = "NULL"
		}
	}
	return t.t.row(rec)
}

func (t *tableRows) end(n int, failed error) error {
	switch {
	case failed != nil && n == 0:
		return nil // nothing printed: the error says what happened
	case failed != nil:
		return t.t.close() // no count: it is not the whole result
	}
	if err := t.t.close(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(t.t.w, countLine(n, "row"))
	return err
}

// countLine is "(1 row)", "(2 rows)", "(0 rows)".
func countLine(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("(1 %s)", noun)
	}
	return fmt.Sprintf("(%d %ss)", n, noun)
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
