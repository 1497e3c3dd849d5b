package main

import (
	"bufio"
	"io"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// dump prints the database, or the tables whose names match the LIKE
// pattern like, as SQL text that rebuilds it, as sqlite3's ".dump": the
// tables with their rows, then indexes, triggers and views, in one
// transaction. Virtual tables are created again and their rows inserted;
// their shadow tables and SQLite's statistics (ANALYZE) are not printed.
func dump(conn *sqlite3.Conn, w io.Writer, like string) error {
	if like == "" {
		like = "%"
	}
	out := bufio.NewWriter(w)
	out.WriteString("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n")
	tables, err := dumpTables(conn, like)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if err := dumpTable(conn, out, t); err != nil {
			return err
		}
	}
	err = eachRow(conn, `SELECT sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND type IN ('index', 'trigger', 'view') AND tbl_name LIKE ?
		ORDER BY type = 'view', rowid`, []string{like}, func(stmt *sqlite3.Stmt) {
		out.WriteString(stmt.ColumnText(0))
		out.WriteString(";\n")
	})
	if err != nil {
		return err
	}
	out.WriteString("COMMIT;\n")
	return out.Flush()
}

// dumpedTable is a table to dump: its name and CREATE statement.
type dumpedTable struct{ name, sql string }

// dumpTables lists the tables to dump, sqlite_sequence last.
func dumpTables(conn *sqlite3.Conn, like string) ([]dumpedTable, error) {
	shadow := map[string]bool{}
	err := eachRow(conn, `SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'`, nil,
		func(stmt *sqlite3.Stmt) { shadow[stmt.ColumnText(0)] = true })
	if err != nil {
		return nil, err
	}
	var tables []dumpedTable
	err = eachRow(conn, `SELECT name, sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND type = 'table' AND tbl_name LIKE ?
		AND (name NOT LIKE 'sqlite_%' OR name = 'sqlite_sequence')
		ORDER BY name = 'sqlite_sequence', rowid`, []string{like}, func(stmt *sqlite3.Stmt) {
		if name := stmt.ColumnText(0); !shadow[name] {
			tables = append(tables, dumpedTable{name, stmt.ColumnText(1)})
		}
	})
	return tables, err
}

// dumpTable prints t's CREATE statement and an INSERT per row.
func dumpTable(conn *sqlite3.Conn, out *bufio.Writer, t dumpedTable) error {
	if t.name == "sqlite_sequence" {
		out.WriteString("DELETE FROM sqlite_sequence;\n")
	} else {
		out.WriteString(t.sql)
		out.WriteString(";\n")
	}
	cols, all, err := insertableColumns(conn, t.name)
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		return nil
	}
	into := "INSERT INTO " + quoteIdent(t.name)
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c)
	}
	if !all {
		into += "(" + strings.Join(quoted, ",") + ")"
	}
	for i, q := range quoted {
		quoted[i] = "quote(" + q + ")"
	}
	query := "SELECT " + strings.Join(quoted, ", ") + " FROM " + quoteIdent(t.name)
	return eachRow(conn, query, nil, func(stmt *sqlite3.Stmt) {
		out.WriteString(into)
		out.WriteString(" VALUES(")
		for i := range cols {
			if i > 0 {
				out.WriteString(",")
			}
			out.WriteString(stmt.ColumnText(i))
		}
		out.WriteString(");\n")
	})
}

// insertableColumns returns the columns of table that an INSERT sets (not
// generated or hidden ones), and whether they are all of its columns.
func insertableColumns(conn *sqlite3.Conn, table string) (cols []string, all bool, err error) {
	all = true
	err = eachRow(conn, `SELECT name, hidden FROM pragma_table_xinfo(?) ORDER BY cid`, []string{table}, func(stmt *sqlite3.Stmt) {
		if stmt.ColumnInt(1) != 0 {
			all = false
			return
		}
		cols = append(cols, stmt.ColumnText(0))
	})
	return cols, all, err
}

// eachRow runs query with args and calls row for each row.
func eachRow(conn *sqlite3.Conn, query string, args []string, row func(*sqlite3.Stmt)) error {
	stmt, _, err := conn.Prepare(query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i, a := range args {
		if err := stmt.BindText(i+1, a); err != nil {
			return err
		}
	}
	for stmt.Step() {
		row(stmt)
	}
	return stmt.Err()
}

// quoteIdent quotes an SQL identifier: "name", with " doubled.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
