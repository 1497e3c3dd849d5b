package main

import (
	"strings"
	"testing"
)

// TestShellErrorsAsSQLite checks that the shell prints SQLite's own message
// after "Error: ", as sqlite3 does, without the layers' prefixes.
func TestShellErrorsAsSQLite(t *testing.T) {
	c := newCLI(t)
	r := c.run("SELEC 1;\nSELECT * FROM nope;\n", "shell", c.url("e.db"))
	want := "Error: near \"SELEC\": syntax error\nError: no such table: nope\n"
	if r.code != 1 || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("exit %d, stderr %q, want it to start with %q", r.code, r.stderr, want)
	}
}

// TestShellHeaders checks .headers off and on for CSV.
func TestShellHeaders(t *testing.T) {
	c := newCLI(t)
	r := c.ok("SELECT 1 AS a, 2 AS b;\n.headers off\nSELECT 3 AS a;\n.headers on\nSELECT 4 AS a;\n", "shell", c.url("h.db"))
	if want := "a,b\n1,2\n3\na\n4\n"; r.stdout != want {
		t.Errorf("output %q, want %q", r.stdout, want)
	}
	if r := c.run(".headers maybe\n", "shell", c.url("h.db")); r.code != 1 || !strings.Contains(r.stderr, "on or off") {
		t.Errorf(".headers maybe: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestShellDump checks that .dump prints SQL that rebuilds the database:
// loaded into an empty database, every table, index, view and trigger
// reads back the same, values of every type included.
func TestShellDump(t *testing.T) {
	c := newCLI(t)
	c.ok("", "query", c.url("src.db"), `
		CREATE TABLE "odd ""name"" t"(id INTEGER PRIMARY KEY AUTOINCREMENT, s TEXT, r REAL, b BLOB, n, g INTEGER GENERATED ALWAYS AS (id * 2) VIRTUAL);
		INSERT INTO "odd ""name"" t"(s, r, b, n) VALUES
			('it''s', 0.1, x'00ff', NULL),
			('two
lines', 1e300, x'', 7),
			('', -0.0, NULL, 'text');
		CREATE INDEX odd_s ON "odd ""name"" t"(s);
		CREATE TABLE log(msg TEXT);
		CREATE TRIGGER note AFTER INSERT ON "odd ""name"" t" BEGIN INSERT INTO log VALUES ('added ' || new.id); END;
		CREATE VIEW v AS SELECT id, s FROM "odd ""name"" t" WHERE n IS NOT NULL;
		DELETE FROM "odd ""name"" t" WHERE id = 3;
		INSERT INTO "odd ""name"" t"(s) VALUES ('four');`)

	d := c.ok(".dump\n", "shell", c.url("src.db"))
	for _, w := range []string{"BEGIN TRANSACTION;\n", "DELETE FROM sqlite_sequence;\n", "CREATE INDEX odd_s", "CREATE VIEW v", "COMMIT;\n"} {
		if !strings.Contains(d.stdout, w) {
			t.Errorf(".dump lacks %q:\n%s", w, d.stdout)
		}
	}
	c.ok("", "query", c.url("copy.db"), d.stdout)

	for _, q := range []string{
		`SELECT id, s, quote(r), quote(b), quote(n), g FROM "odd ""name"" t" ORDER BY id`,
		`SELECT * FROM log`,
		`SELECT * FROM v ORDER BY id`,
		`SELECT * FROM sqlite_sequence`,
		`SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name`,
	} {
		src := c.ok("", "query", "--format", "json", c.url("src.db"), q).stdout
		cp := c.ok("", "query", "--format", "json", c.url("copy.db"), q).stdout
		if src != cp {
			t.Errorf("%s:\nsource %s\ncopy   %s", q, src, cp)
		}
	}

	// One table: its rows, not the others'.
	one := c.ok(".dump log\n", "shell", c.url("src.db")).stdout
	if !strings.Contains(one, "CREATE TABLE log") || strings.Contains(one, "odd") {
		t.Errorf(".dump log:\n%s", one)
	}
}
