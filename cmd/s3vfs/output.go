package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"strconv"

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

// settleFormat sets *format, the --format of a command that prints rows,
// to the default for w when it is empty, and returns the usage error of
// an unknown one.
func settleFormat(format *string, w io.Writer) error {
	if *format == "" {
		*format = defaultFormat(w)
	}
	return checkFormat(*format)
}

func checkFormat(f string) error {
	switch f {
	case formatTable, formatCSV, formatJSON:
		return nil
	}
	return usagef("unknown --format %q: use csv, json or table", f)
}

// Every command that prints JSON takes both --json and --format json.

// writeJSON writes v to w as JSON indented by two spaces, the form of
// every command's JSON output.
func writeJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

// registerJSON registers --json, and --format (json or text) as its other
// name, for the commands whose output is text or JSON (info, gc, doctor).
func registerJSON(fs *flag.FlagSet) *bool {
	b := fs.Bool("json", false, "print JSON (the same as --format json)")
	fs.Var(jsonFormat{b}, "format", "output `format`: text or json")
	return b
}

// jsonFormat is the --format of a command whose output is text or JSON.
type jsonFormat struct{ json *bool }

// String implements [fmt.Stringer].
func (f jsonFormat) String() string {
	if f.json != nil && *f.json {
		return formatJSON
	}
	return ""
}

// Set implements [flag.Value].
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

// String implements [fmt.Stringer].
func (f jsonSwitch) String() string { return "" }

// IsBoolFlag lets the flag stand without a value.
func (f jsonSwitch) IsBoolFlag() bool { return true }

// Set implements [flag.Value].
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
