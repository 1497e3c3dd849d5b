package main

import (
	"strings"
	"testing"
)

func TestSmoke(t *testing.T) {
	c := newCLI(t)
	src := c.localDB("src.db", 1000)
	t.Log(c.ok("", "import", src, c.url("a/app.db")))
	t.Log(c.ok("", "info", c.url("a/app.db")))
	t.Log(c.ok("", "query", c.url("a/app.db"), "SELECT count(*), sum(score) FROM t WHERE id > ?", "10"))
	t.Log(c.ok("", "query", "--format", "json", "--stats", c.url("a/app.db"), "SELECT id, name, score, NULL AS n FROM t LIMIT 2"))
	t.Log(c.ok("", "query", "--format", "table", c.url("a/app.db"), "SELECT id, name, score, NULL AS n FROM t LIMIT 2"))
	t.Log(c.ok("", "export", c.url("a/app.db"), "out.db"))
	t.Log(c.ok(".tables\n.schema\nSELECT count(*)\nFROM t;\n.stats\n", "shell", c.url("a/app.db")))
	_ = strings.Contains
}
