package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ncruces/go-sqlite3"
	"github.com/peterh/liner"
)

// shellDotHelp lists the dot commands, as .help prints them.
const shellDotHelp = `.tables         list the tables
.schema [NAME]  show the CREATE statements
.dump [TABLE]   print the database (or a table) as SQL text
.stats          S3 requests and bytes so far
.format FORMAT  output format: table, csv or json (.mode: the same;
                box and column are table)
.headers on|off print CSV's header line (on by default)
.help           this list
.quit           leave (or .exit, or Ctrl-D)
`

// indent returns text, lines that each end in a newline, with every line
// indented by a tab.
func indent(text string) string {
	return "\t" + strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n\t") + "\n"
}

// shellHelp is the usage text of shell; it lists the dot commands as
// .help does (shellDotHelp), indented.
var shellHelp = `
Usage: s3vfs shell [flags] s3://BUCKET/KEY

An interactive SQL prompt on the database, with line editing and history
(kept in ~/.s3vfs_history) on a terminal. A statement runs once it ends
with ";", so it may span lines. Dot commands:

` + indent(shellDotHelp) + `
Ctrl-C stops the statement that is running, or drops the one being
typed; the shell goes on.

Statements are read from stdin when it is not a terminal, so a script
works too. --commit or --asof open an older version of the database,
read-only ("s3vfs log" lists the commits kept).

Examples:

	s3vfs shell s3://my-bucket/app.db
	echo "SELECT count(*) FROM users;" | s3vfs shell s3://my-bucket/app.db
	s3vfs shell --asof 2026-05-01T12:00:00Z s3://my-bucket/app.db
`

// shellCommand is an interactive SQL prompt.
type shellCommand struct {
	ioStreams
	flags sessionFlags
}

// Run implements command.
func (c *shellCommand) Run(ctx context.Context, args []string) error {
	fs, err := c.flags.parse("shell", shellHelp, "output `format`: csv, json or table (default table on a terminal, csv otherwise, as query)", c.stdout, args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("shell needs one database: s3vfs shell s3://BUCKET/KEY")
	}
	s, err := c.flags.open(ctx, fs.Arg(0), c.stdout)
	if err != nil {
		return err
	}
	defer s.Close()

	sh := &shell{s: s, out: c.stdout, errw: c.stderr, format: rowFormat{name: c.flags.format}}
	if f, ok := c.stdin.(*os.File); ok && f == os.Stdin && isTerminal(os.Stdin) && isTerminal(c.stdout) {
		return sh.interactive(ctx, s.t)
	}
	return sh.script(ctx, c.stdin)
}

// shell runs statements and dot commands.
type shell struct {
	s      *session
	out    io.Writer
	errw   io.Writer
	format rowFormat
	failed bool // a statement failed (reported in the exit status of a script)
	// interactive: Ctrl-C stops the running statement, not the shell.
	onTerminal bool
}

// interactive reads lines with line editing and history.
func (sh *shell) interactive(ctx context.Context, t target) error {
	sh.onTerminal = true
	ln := liner.NewLiner()
	defer ln.Close()
	ln.SetCtrlCAborts(true)
	ln.SetMultiLineMode(true)
	hist := ""
	if home, err := os.UserHomeDir(); err == nil {
		hist = filepath.Join(home, ".s3vfs_history")
		if f, err := os.Open(hist); err == nil {
			ln.ReadHistory(f)
			f.Close()
		}
	}
	defer func() {
		if hist == "" {
			return
		}
		// Statements may hold secrets: only the user reads the history.
		if f, err := os.OpenFile(hist, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err == nil {
			f.Chmod(0o600) // a file an older version created 0644
			ln.WriteHistory(f)
			f.Close()
		}
	}()
	fmt.Fprintf(sh.out, "Connected to %s. Type .help for help; statements end with \";\".\n", t)
	var buf strings.Builder
	for ctx.Err() == nil {
		prompt := "s3vfs> "
		if buf.Len() > 0 {
			prompt = "  ...> "
		}
		line, err := ln.Prompt(prompt)
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			buf.Reset() // Ctrl-C drops the statement being typed
			continue
		case errors.Is(err, io.EOF):
			fmt.Fprintln(sh.out)
			return nil
		case err != nil:
			return err
		}
		stmt, done, quit := sh.feed(ctx, &buf, line)
		if stmt != "" {
			ln.AppendHistory(stmt)
		}
		if quit {
			return nil
		}
		_ = done
	}
	return ctx.Err()
}

// script reads statements from r without prompts; the first failure is
// reported after the rest ran, so the exit status tells of it.
func (sh *shell) script(ctx context.Context, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var buf strings.Builder
	for sc.Scan() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, _, quit := sh.feed(ctx, &buf, sc.Text()); quit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if strings.TrimSpace(buf.String()) != "" {
		sh.exec(ctx, buf.String())
	}
	if sh.failed {
		return errors.New("s3vfs: shell: some statements failed (see above)")
	}
	return nil
}

// feed adds a line to buf and runs what is complete: a dot command on its
// own line, or SQL ending in ";". It returns the text run (for history).
func (sh *shell) feed(ctx context.Context, buf *strings.Builder, line string) (ran string, done, quit bool) {
	if buf.Len() == 0 && strings.HasPrefix(strings.TrimSpace(line), ".") {
		line = strings.TrimSpace(line)
		return line, true, sh.dot(ctx, line)
	}
	if buf.Len() == 0 && strings.TrimSpace(line) == "" {
		return "", true, false
	}
	buf.WriteString(line)
	buf.WriteString("\n")
	text := buf.String()
	if !strings.HasSuffix(strings.TrimSpace(text), ";") || !complete(sh.s.conn, text) {
		return "", false, false
	}
	buf.Reset()
	sh.exec(ctx, text)
	return strings.TrimSpace(text), true, false
}

// complete reports whether sql holds only whole statements (a trigger body
// ends in ";" long before the statement does).
func complete(conn *sqlite3.Conn, sql string) bool {
	for {
		stmt, tail, err := conn.Prepare(sql)
		if err != nil {
			return !strings.Contains(err.Error(), "incomplete input")
		}
		if stmt == nil {
			return true
		}
		stmt.Close()
		sql = tail
	}
}

// exec runs sql and reports an error without stopping the shell.
func (sh *shell) exec(ctx context.Context, sql string) {
	ctx, release := sh.interruptible(ctx)
	defer release()
	sh.s.conn.SetInterrupt(ctx)
	if err := runScript(sh.s.conn, sql, nil, sh.out, sh.format); err != nil {
		sh.fail(err)
	}
}

// interruptible returns the context a statement runs in: on a terminal,
// Ctrl-C cancels it, and only it, until release is called.
func (sh *shell) interruptible(ctx context.Context) (_ context.Context, release func()) {
	if !sh.onTerminal {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	unroute := ctrlC.route(cancel)
	return ctx, func() { unroute(); cancel() }
}

// fail reports err as sqlite3 does, one line after "Error: ", and
// remembers that a command failed.
func (sh *shell) fail(err error) {
	sh.failed = true
	fmt.Fprintln(sh.errw, "Error:", shellMessage(describe(err, sh.s.t)))
}

// shellMessage is err without the layers' prefixes ("s3vfs: ", "sqlite3:
// SQL logic error: "): SQLite's own message where it has one, as the
// sqlite3 shell prints it.
func shellMessage(err error) string {
	var se *sqlite3.Error
	if errors.As(err, &se) && err.Error() == se.Error() {
		code := se.ExtendedCode().Error() // "sqlite3: SQL logic error"
		if msg, ok := strings.CutPrefix(se.Error(), code+": "); ok {
			return msg
		}
	}
	return strings.TrimPrefix(strings.TrimPrefix(explain(err), "s3vfs: "), "sqlite3: ")
}

// dot runs a dot command; it returns true to quit.
func (sh *shell) dot(ctx context.Context, line string) bool {
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case ".quit", ".exit", ".q":
		return true
	case ".help":
		fmt.Fprint(sh.out, shellDotHelp)
	case ".tables":
		sh.query(ctx, formatCSVBare, `SELECT name FROM sqlite_schema WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	case ".schema":
		if arg == "" {
			sh.query(ctx, formatCSVBare, `SELECT sql || ';' FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY tbl_name, type DESC, name`)
		} else {
			sh.query(ctx, formatCSVBare, `SELECT sql || ';' FROM sqlite_schema WHERE sql IS NOT NULL AND tbl_name = ? ORDER BY type DESC, name`, arg)
		}
	case ".stats":
		st := sh.s.v.Stats()
		fmt.Fprintf(sh.out, "%v\n", st)
	case ".format", ".mode":
		// sqlite3's .mode names: box and column print as a table.
		if arg == "box" || arg == "column" {
			arg = formatTable
		}
		if err := checkFormat(arg); err != nil {
			sh.fail(err)
			break
		}
		sh.format.name = arg
	case ".headers", ".header":
		switch strings.ToLower(arg) {
		case "on", "yes", "1":
			sh.format.noHeader = false
		case "off", "no", "0":
			sh.format.noHeader = true
		default:
			sh.fail(usagef(".headers takes on or off"))
		}
	case ".dump":
		ctx, release := sh.interruptible(ctx)
		defer release()
		sh.s.conn.SetInterrupt(ctx)
		if err := dump(sh.s.conn, sh.out, arg); err != nil {
			sh.fail(err)
		}
	default:
		sh.failed = true
		fmt.Fprintf(sh.errw, "Error: unknown command %s: type .help for the list\n", cmd)
	}
	return false
}

// formatCSVBare prints one value per line, no header: for dot commands.
const formatCSVBare = "lines"

// query runs a dot command's query and prints the first column of each row.
func (sh *shell) query(ctx context.Context, _ string, sql string, args ...string) {
	sh.s.conn.SetInterrupt(ctx)
	stmt, _, err := sh.s.conn.Prepare(sql)
	if err != nil {
		sh.fail(err)
		return
	}
	defer stmt.Close()
	for i, a := range args {
		stmt.BindText(i+1, a)
	}
	for stmt.Step() {
		fmt.Fprintln(sh.out, stmt.ColumnText(0))
	}
	if err := stmt.Err(); err != nil {
		sh.fail(err)
	}
}
