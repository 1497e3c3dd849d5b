//go:build race

package main

// raceEnabled makes TestMain build the command with the race detector too.
const raceEnabled = true
