// Package docsnippets compiles the Go snippets of README.md and
// docs/migrating.md: its test files hold them verbatim, in functions and
// import blocks, and TestSnippets checks that every Go block of those
// documents is there, so that a snippet that no longer compiles fails the
// build of the test. It has no code of its own.
package docsnippets
