package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"time"

	"github.com/s3vfs/s3vfs"
)

const logHelp = `
Usage: s3vfs log [flags] s3://BUCKET/KEY

Lists the commits of the database that are still kept, newest first: the
newest, and every one within the retention that garbage collection has
not removed. For each: its number, time, the size of the database file,
the block objects it wrote, whether it wrote a full checkpoint, the
writer, and how it was made when not by a transaction (column made):
"restore of N" (s3vfs restore of commit N), "deserialize" (s3vfs
import), "migrate" (s3vfs migrate), "branch of KEY@N" or "merge of
KEY@N"; a writer set to format version 1 marks none. Any of them can be
exported (s3vfs export --commit N) or restored (s3vfs restore). It costs
one LIST per 1,000 commits and one GET per commit listed (two for a
checkpoint); --limit stops early. "s3vfs history" is the same command.

Output is a table on a terminal and CSV otherwise, unless --format says.

Examples:

	s3vfs log s3://my-bucket/app.db
	s3vfs log --limit 10 s3://my-bucket/app.db
	s3vfs log --format json s3://my-bucket/app.db
`

// logCommand lists the commits of a database.
type logCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *logCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("log", logHelp, c.stdout)
	c.aws.register(fs)
	limit := fs.Int("limit", 0, "list at most `N` commits, the newest (0: all)")
	format := fs.String("format", "", "output `format`: csv, json or table (default table on a terminal, csv otherwise)")
	registerJSONFormat(fs, format)
	if err := parseOneDatabase(fs, args); err != nil {
		return err
	}
	if *limit < 0 {
		return usagef("--limit %d is negative: give the number of commits to list, or 0 for all", *limit)
	}
	if err := settleFormat(format, c.stdout); err != nil {
		return err
	}
	t, v, err := c.aws.open(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	var commits []s3vfs.Commit
	for cm, err := range v.History(ctx, t.key) {
		if err != nil {
			return describe(err, t)
		}
		commits = append(commits, cm)
		if len(commits) == *limit {
			break
		}
	}
	if len(commits) == 0 {
		return describe(fmt.Errorf("%w: %s", s3vfs.ErrNoDatabase, t), t)
	}
	return printCommits(c, commits, *format)
}

var logColumns = []string{"commit", "time", "size", "blocks", "checkpoint", "writer", "made"}

func logRow(cm s3vfs.Commit) []string {
	return []string{
		strconv.FormatUint(cm.N, 10),
		cm.Time.UTC().Format(time.RFC3339Nano),
		strconv.FormatInt(cm.Size, 10),
		strconv.Itoa(cm.BlocksChanged),
		strconv.FormatBool(cm.Checkpoint),
		cm.Writer,
		madeText(cm),
	}
}

// madeText says how cm was made, for the column made: "restore of 12",
// "branch of src.db@40", "deserialize"; empty for a transaction.
func madeText(cm s3vfs.Commit) string {
	switch {
	case cm.Source != "":
		return fmt.Sprintf("%s of %s@%d", cm.Made, cm.Source, cm.From)
	case cm.From != 0:
		return fmt.Sprintf("%s of %d", cm.Made, cm.From)
	}
	return cm.Made
}

func printCommits(c *logCommand, commits []s3vfs.Commit, format string) error {
	switch format {
	case formatCSV:
		cw := csv.NewWriter(c.stdout)
		cw.Write(logColumns)
		for _, cm := range commits {
			cw.Write(logRow(cm))
		}
		cw.Flush()
		return cw.Error()
	case formatJSON:
		type row struct {
			Commit     uint64    `json:"commit"`
			Time       time.Time `json:"time"`
			Size       int64     `json:"size"`
			Blocks     int       `json:"blocks"`
			Checkpoint bool      `json:"checkpoint"`
			Writer     string    `json:"writer"`
			Made       string    `json:"made,omitempty"`
			From       uint64    `json:"from,omitempty"`
			Source     string    `json:"source,omitempty"`
		}
		rows := make([]row, len(commits))
		for i, cm := range commits {
			rows[i] = row{cm.N, cm.Time.UTC(), cm.Size, cm.BlocksChanged, cm.Checkpoint, cm.Writer, cm.Made, cm.From, cm.Source}
		}
		return writeJSON(c.stdout, rows)
	}
	table := newTableWriter(c.stdout, logColumns)
	for _, cm := range commits {
		r := logRow(cm)
		r[1] = cm.Time.UTC().Format(time.RFC3339)
		r[4] = ""
		if cm.Checkpoint {
			r[4] = "yes"
		}
		if err := table.row(r); err != nil {
			return err
		}
	}
	if err := table.close(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(c.stdout, countLine(len(commits), "commit"))
	return err
}
